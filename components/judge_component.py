"""The base of every judge component: the outputs an evaluation needs, under the same
names whatever runs the judge."""

from __future__ import annotations

import pulumi

from components import judge
from components.settings import JudgeSettings


class JudgeComponent(pulumi.ComponentResource):
    evaluation_url: pulumi.Output[str]
    openai_base_url: pulumi.Output[str]
    host_url: pulumi.Output[str | None]
    models: pulumi.Output[list[str]]
    image: pulumi.Output[str]

    def _publish(
        self, evaluation_url: pulumi.Output[str], host_url: str | None, settings: JudgeSettings
    ) -> None:
        """Sets every output and registers them; the last call of a subclass's __init__."""
        self.evaluation_url = evaluation_url
        self.openai_base_url = evaluation_url.apply(judge.openai_base_url)
        self.host_url = pulumi.Output.from_input(host_url)
        self.models = pulumi.Output.from_input(list(settings.models))
        self.image = pulumi.Output.from_input(settings.image)
        self.register_outputs(
            {
                "evaluation_url": self.evaluation_url,
                "openai_base_url": self.openai_base_url,
                "host_url": self.host_url,
                "models": self.models,
                "image": self.image,
            }
        )
