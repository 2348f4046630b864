"""Ollama as the judge of an LLM-as-a-Judge evaluation, where `ollama-judge:target` says:
`docker` (stack `local`) or `kubernetes` (stack `knitfab`), with the same outputs. Each
target's modules are imported in its own branch: the other target's SDK and client would
cost the program about half a second of imports on every run.
"""

import pulumi

from components.config import DockerJudgeArgs, KubernetesJudgeArgs, load_settings
from components.judge import OUTPUTS, JudgeComponent
from components.model_registry import check_models

settings = load_settings()
# The checks come before anything changes; each module says what it prevents.
for warning in check_models(settings.judge, pulumi.get_stack()):
    pulumi.log.warn(warning)
judge: JudgeComponent
match settings:
    case DockerJudgeArgs():
        from components.docker.judge import DockerJudge
        from components.docker.preflight import gpu_request

        gpus, said = gpu_request(settings, pulumi.get_stack())
        if said:
            pulumi.log.warn(said)
        judge = DockerJudge("ollama", settings.model_copy(update={"gpus": gpus}))
    case KubernetesJudgeArgs():
        from components.kubernetes.judge import KubernetesJudge
        from components.kubernetes.preflight import check_gpu_capacity, check_storage_class

        for skipped in (
            check_gpu_capacity(settings, settings.cluster),
            check_storage_class(settings, settings.cluster),
        ):
            if skipped:
                pulumi.log.warn(skipped)
        judge = KubernetesJudge("ollama", settings)

for export_name, attribute in OUTPUTS.items():
    pulumi.export(export_name, getattr(judge, attribute))
