"""The fine-tuning records of a selected candidate: the instruction (alpaca) form and the chat (messages) form."""

from __future__ import annotations

from coderig_schemas import ChatExample, ChatMessage, FineTuneExample

from .selection import Candidate


def finetune_example(c: Candidate) -> FineTuneExample:
    """The instruction-format record of a candidate."""
    return FineTuneExample(instruction=c.instruction, input="", output=c.code, difficulty=c.difficulty, id=c.example_id, run_id=c.run_id,
                           dataset=c.dataset, problem_id=c.problem_id, task_id=c.task_id)


def chat_example(c: Candidate, system: str | None = None) -> ChatExample:
    """The chat-format record: a system turn (``system``, else the one sent with the prompt, if any), the
    instruction as user turn, and the code in a fenced block as assistant turn (a non-code answer, such
    as a worked math solution, verbatim)."""
    system = system or c.system
    turns = [ChatMessage(role="system", content=system)] if system else []
    answer = f"```python\n{c.code.rstrip()}\n```" if c.is_code else c.code
    turns += [
        ChatMessage(role="user", content=c.instruction),
        ChatMessage(role="assistant", content=answer),
    ]
    return ChatExample(messages=turns, difficulty=c.difficulty, id=c.example_id, run_id=c.run_id,
                       dataset=c.dataset, problem_id=c.problem_id, task_id=c.task_id)
