module ollama-judge.invalid/pause

go 1.22
