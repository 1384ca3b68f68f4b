"""JSON answers from an LLM: ask with a schema, parse with recovery, re-ask only what failed.

Provider-neutral and shared by the graph nodes: `parse_answer` reads a model's text against a
JSON schema (undoing code fences, surrounding prose and a cut-off tail), `PromptTemplate`
checks prompt templates when they are configured, and `collect_answers` runs many prompts
through `BatchLlmService`, asking again only for the answers that could not be used.
"""

from batchery.answers._collect import (
    DEFAULT_RETRY_PROMPT,
    RETRY_FIELDS,
    AnswerFailure,
    Ask,
    AskOptions,
    Collected,
    collect_answers,
    job_id_for,
)
from batchery.answers._node_run import ask_as_node, node_deadline, node_finished
from batchery.answers._parse import (
    CODE_FENCE,
    SURROUNDING_PROSE,
    TRUNCATED_TAIL,
    AnswerError,
    ParsedAnswer,
    parse_answer,
)
from batchery.answers._prompts import PromptError, PromptTemplate
from batchery.answers._report import FailedAsk, JobModeState, NodeReport, node_report
from batchery.answers._schema import SchemaError, check_schema, schema_errors
from batchery.answers._settings import NodeSettings

__all__ = [
    "CODE_FENCE",
    "DEFAULT_RETRY_PROMPT",
    "RETRY_FIELDS",
    "SURROUNDING_PROSE",
    "TRUNCATED_TAIL",
    "AnswerError",
    "AnswerFailure",
    "Ask",
    "AskOptions",
    "Collected",
    "FailedAsk",
    "JobModeState",
    "NodeReport",
    "NodeSettings",
    "ParsedAnswer",
    "PromptError",
    "PromptTemplate",
    "SchemaError",
    "ask_as_node",
    "check_schema",
    "collect_answers",
    "job_id_for",
    "node_deadline",
    "node_finished",
    "node_report",
    "parse_answer",
    "schema_errors",
]
