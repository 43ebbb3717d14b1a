"""Prompt templates (data in ``registry/prompts.yaml``) and their pure rendering into chat messages."""

from __future__ import annotations

import json
import string
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coderig_schemas import ChatMessage, FunctionCallingGrading, InvalidInputError, Problem, UsageError, Visibility
from coderig_schemas.io import hash_json

#: the fields a template may use ({Question} is the problem statement, as lighteval-style math templates name it)
FIELDS = ("prompt", "Question", "functions", "tests", "entry_point", "starter_code", "dataset", "problem_id")


class Template(BaseModel):
    """One prompt template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Template id (its key in the prompts file).")
    datasets: list[str] = Field(default_factory=list, description="Datasets it is the default template of.")
    task_types: list[str] = Field(
        default_factory=list, description="Task types (math, ...) it is the default of, for datasets no template lists."
    )
    system: str = Field(default="", description="System message; empty for none.")
    user: str = Field(description="User message: a format string over FIELDS.")
    completion: str = Field(default="{prompt}", description="Plain prompt when the chat template is off.")
    tools_system: str | None = Field(
        default=None, description="Function calling: the system message when the functions go through the chat "
        "template's tools argument (the model's template takes tools); None: the functions always go into the prompt.",
    )

    @property
    def sha256(self) -> str:
        """Hash of what the model sees of the template (system, user, completion, and tools_system when set)."""
        texts = {"system": self.system, "user": self.user, "completion": self.completion}
        if self.tools_system is not None:  # only when set, so the hashes of templates without it never change
            texts["tools_system"] = self.tools_system
        return hash_json(texts)


class PromptsFile(BaseModel):
    """A prompts file: templates by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    templates: dict[str, Template]

    def for_dataset(self, dataset: str, template_id: str | None = None, task_type: str | None = None) -> Template:
        """The named template, else the first one listing the dataset, else the first one listing the
        problems' task type, else the file's only template."""
        if template_id is not None:
            if template_id not in self.templates:
                raise UsageError(f"no template {template_id!r} in {self.path}", hint=f"choose one of {', '.join(self.templates)}")
            return self.templates[template_id]
        for t in self.templates.values():
            if dataset in t.datasets:
                return t
        for t in self.templates.values():
            if task_type is not None and task_type in t.task_types:
                return t
        if len(self.templates) == 1:
            return next(iter(self.templates.values()))
        raise UsageError(f"no template in {self.path} is for dataset {dataset!r}", hint="pass --template ID")


def _check_fields(where: str, tid: str, key: str, text: str) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as e:
        raise InvalidInputError(f"{where}: templates.{tid}.{key}: {e}", hint="write literal braces as {{ and }}") from None
    bad = sorted(n for n in names if n not in FIELDS)
    if bad:
        raise InvalidInputError(f"{where}: templates.{tid}.{key}: unknown field {{{bad[0]}}}", hint=f"use {', '.join(FIELDS)}")


def load_prompts(path: Path | None = None) -> PromptsFile:
    """Read and validate a prompts file (the packaged one when path is None)."""
    if path is None:
        ref = resources.files("coderig_generate") / "registry" / "prompts.yaml"
        text, where = ref.read_text(encoding="utf-8"), "registry/prompts.yaml"
    else:
        try:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        except OSError as e:
            raise InvalidInputError(f"{path}: cannot read prompts file: {e.strerror}", hint="check --prompts") from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(f"{where}{line}: invalid YAML: {getattr(e, 'problem', None) or e}", hint="fix the prompts file") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict) or not data["templates"]:
        raise InvalidInputError(f"{where}: expected a mapping with 'templates'", hint="see registry/prompts.yaml")
    templates = {}
    for tid, body in data["templates"].items():
        try:
            t = Template.model_validate({"id": str(tid), **(body or {})})
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(f"{where}: templates.{tid}.{loc}: {first['msg']}", hint="fix the prompts file") from None
        for key in ("system", "user", "completion", "tools_system"):
            _check_fields(where, str(tid), key, getattr(t, key) or "")
        templates[str(tid)] = t
    return PromptsFile(path=where, templates=templates)


def with_system_prompt(template: Template, system: str) -> Template:
    """The template with its system message replaced by system, taken literally (braces are not fields).

    The replacement changes the template's sha256, so outputs with another system prompt are other outputs.
    """
    literal = system.replace("{", "{{").replace("}", "}}")
    return template.model_copy(update={"system": literal, **({"tools_system": literal} if template.tools_system is not None else {})})


def fields(problem: Problem) -> dict[str, str]:
    """The values a template can use for a problem."""
    return {
        "prompt": problem.prompt.rstrip(),
        "Question": problem.prompt.strip(),
        # function calling: the tools offered, as the dataset defines them (JSON), for prompt-mode templates
        "functions": json.dumps(problem.grading.functions, indent=2, ensure_ascii=False)
        if isinstance(problem.grading, FunctionCallingGrading) else "",
        "tests": "\n".join(t.code for t in problem.tests if t.visibility == Visibility.VISIBLE),
        "entry_point": problem.entry_point or "",
        "starter_code": str(problem.source.get("starter_code") or ""),
        "dataset": problem.dataset,
        "problem_id": problem.problem_id,
    }


def render(template: Template, problem: Problem, *, chat: bool = True, tools: bool = False) -> list[ChatMessage]:
    """The messages of one prompt: system (when set) and user; with chat off, one user message holding the completion text.

    ``tools``: the functions go through the chat template's tools argument, so the system message is the
    template's ``tools_system`` (the one without the functions written in).
    """
    values = fields(problem)
    if not chat:
        return [ChatMessage(role="user", content=template.completion.format_map(values))]
    messages = []
    system = template.tools_system if tools and template.tools_system is not None else template.system
    if system:
        messages.append(ChatMessage(role="system", content=system.format_map(values)))
    messages.append(ChatMessage(role="user", content=template.user.format_map(values)))
    return messages
