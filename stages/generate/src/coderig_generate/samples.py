"""One contract ``Sample`` from one engine answer: code extraction (how depends on the answer's origin,
:class:`~coderig_generate.engines.base.ReplayedAnswer`), the prompt's hash and the answer's provenance."""

from __future__ import annotations

from coderig_schemas import ChatMessage, ExtractionMethod, Problem, Sample, TaskType
from coderig_schemas.io import hash_json, sha256_bytes

from .engines.base import GenOutput
from .extract import extract_code, keep_reachable
from .resolution import Resolved


def prompt_hash(messages: list[ChatMessage], prompt_text: str | None) -> str:
    """sha256 of the prompt as sent: the rendered text when known, else the canonical JSON of the messages."""
    if prompt_text is not None:
        return sha256_bytes(prompt_text.encode())
    return hash_json([m.model_dump() for m in messages])


def _extract(r: Resolved, problem: Problem, messages: list[ChatMessage], out: GenOutput) -> tuple[str, ExtractionMethod]:
    """The code of a code problem's answer, and how it was found."""
    replayed = out.replayed
    if replayed is not None and replayed.mode == "verbatim":
        return out.text, ExtractionMethod.VERBATIM
    if replayed is not None and replayed.mode == "prefix":  # a replayed completion-mode sample: the plain prompt it continued
        prefix = replayed.prefix
    elif replayed is not None and replayed.mode == "completion":  # a continuation of the problem's own prompt
        prefix = problem.prompt
    else:
        prefix = None if r.chat else messages[-1].content
    found = extract_code(out.text, problem.entry_point, completion_prefix=prefix)
    return found.code, found.method


def to_sample(r: Resolved, problem: Problem, messages: list[ChatMessage], out: GenOutput, index: int, seed: int,
              engine_name: str) -> Sample:
    """One contract Sample from one engine answer (code extraction happens here).

    A non-code problem's answer is not extracted here: the score stage's grader reads raw_response
    (``extraction_method`` 'not_applicable', ``extracted_code`` empty).
    """
    if problem.task_type != TaskType.CODE:
        code, method = "", ExtractionMethod.NOT_APPLICABLE
    else:
        code, method = _extract(r, problem, messages, out)
        if r.config.keep_reachable and code:
            code = keep_reachable(code, problem.entry_point)
    prompt_text = out.prompt_text if out.prompt_text is not None else (None if r.chat else messages[-1].content)
    return Sample(
        sample_id=f"{problem.problem_id}#s{seed}#{index}", problem_id=problem.problem_id, dataset=problem.dataset,
        split=problem.split, sample_index=index, seed=seed, model_name=r.config.model, model_id=r.model_id,
        template_id=r.template.id, template_sha256=r.template.sha256, prompt_sha256=prompt_hash(messages, prompt_text),
        prompt_text=prompt_text, prompt_messages=messages if r.chat else None, raw_response=out.text,
        extracted_code=code, extraction_method=method, finish_reason=out.finish_reason,
        prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens, latency_s=out.latency_s,
        engine=engine_name, sampling=r.sampling.model_copy(update={"seed": seed}),
    )
