"""A scripted model for crewAI: answers with the next line of its script, ReAct style.

It stands in for a hosted model in tests (crewAI's own ``BaseLLM`` contract), so the crew,
its tool calling and our checks on the model's answer run for real.
"""

from __future__ import annotations

from typing import Any

from agents.crew import quiet_crewai

quiet_crewai()

from crewai import BaseLLM  # noqa: E402 - after switching crewAI's network calls off


class ScriptedLLM(BaseLLM):
    script: list[str] = []
    prompts: list[Any] = []

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        self.prompts.append(messages)
        if not self.script:
            raise AssertionError("the crew asked the scripted model more often than scripted")
        return self.script.pop(0)

    def supports_function_calling(self) -> bool:
        return False  # ReAct text: "Action: tool" / "Action Input: {...}" / "Final Answer:"


def action(tool: str, arguments: str = "{}") -> str:
    return f"Thought: I need {tool}.\nAction: {tool}\nAction Input: {arguments}"


def final(answer: str) -> str:
    return f"Thought: I now know the final answer\nFinal Answer: {answer}"
