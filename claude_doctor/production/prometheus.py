"""The monitor's metrics for Prometheus: the same instruments as the OpenTelemetry sink, named as
OpenTelemetry's Prometheus mapping names them (dots become underscores, the unit ``s`` a ``_seconds``
suffix, a counter a ``_total`` suffix), on a registry of their own so that an app's default registry is
never touched. ``claude-doctor record --metrics`` serves it; an app can serve it too.

Labels stay bounded whatever the traffic says: rule codes and severities come from the rule registry,
the status is a class (``2xx``), the end reason one of the recording format's words, and the values that
come from the wire (the model, the error type, the server) keep their first :data:`MAX_LABEL_VALUES`
distinct values, then read ``other``. Never a URL, a request id or a key.

When a model is first seen, every stream rule's findings series and the model's exchange series are
declared at 0, so that the first bad stream is an increase PromQL can see (``increase()`` over a series
that appears at 1 sees nothing).
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..findings import all_rules
from ..keys import redact_text
from .summary import PROVIDER, ExchangeSummary

#: OpenTelemetry's GenAI conventions' advisory buckets for duration, time to first chunk and per chunk.
GENAI_SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
#: The longest gap of a stream: fine around the API's 15 s ping cadence (CD102), where gateways cut.
GAP_BUCKETS = (0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0)
MAX_LABEL_VALUES = 50  #: distinct values a label taken from the wire keeps before it reads ``other``
LABEL_CACHE = 1024  #: exchanges' (operation, model, URL) whose labels are kept ready, then forgotten at once
OTHER = "other"
CONTENT_TYPE = CONTENT_TYPE_LATEST  #: of :meth:`PrometheusSink.exposition`

#: The attributes OpenTelemetry's GenAI metrics carry, as Prometheus labels; all but
#: ``gen_ai.response.model``, which is not known yet when a model's series are declared at the exchange's
#: start and would split each of them in two (the dated model id beside the one asked for).
GEN_AI_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "server_address",
    "server_port",
)


class BoundedLabel:
    """A label whose values come from the wire: its first ``limit`` distinct values (a key pasted where a
    model name goes is redacted), then ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self.values: dict[str, str] = {}  #: as received -> as labelled
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        text = "" if value is None else str(value)
        label = self.values.get(text)
        if label is not None:
            return label
        with self._lock:
            if len(self.values) < self.limit:
                return self.values.setdefault(text, redact_text(text))
        return OTHER


class PrometheusSink:
    """A :class:`~claude_doctor.production.summary.Sink` that counts into its own ``CollectorRegistry``
    (``registry``, or a new one). prometheus_client's instruments are thread-safe, so one sink serves
    every exchange of a process."""

    def __init__(self, registry: CollectorRegistry | None = None, *, max_label_values: int = MAX_LABEL_VALUES) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._model = BoundedLabel(max_label_values)
        self._error = BoundedLabel(max_label_values)
        self._server = BoundedLabel(max_label_values)
        self._declared: set[tuple[str, ...]] = set()
        self._labels: dict[tuple[str, str | None, str], tuple[str, ...]] = {}
        self._per_chunk: dict[tuple[str, ...], Histogram] = {}  #: ``per_chunk``'s children, by labels
        self._stream_rules = [(r.code, r.severity.label) for r in all_rules() if r.area == "stream"]
        self._metrics()

    def _metrics(self) -> None:
        on = {"registry": self.registry}
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration: from the request to the end of the response body.",
            (*GEN_AI_LABELS, "error_type"),
            buckets=GENAI_SECONDS_BUCKETS,
            **on,
        )
        self.first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time from the request to the first chunk of the response body.",
            GEN_AI_LABELS,
            buckets=GENAI_SECONDS_BUCKETS,
            **on,
        )
        self.per_chunk = Histogram(
            "gen_ai_client_operation_time_per_output_chunk_seconds",
            "Time between two chunks of a response body, for each chunk after the first.",
            GEN_AI_LABELS,
            buckets=GENAI_SECONDS_BUCKETS,
            **on,
        )
        self.longest_gap = Histogram(
            "claude_doctor_stream_longest_gap_seconds",
            "Each response body's longest silence between chunks (the API pings every ~15 s: CD102).",
            GEN_AI_LABELS,
            buckets=GAP_BUCKETS,
            **on,
        )
        self.findings = Counter(
            "claude_doctor_findings",
            "Findings of claude-doctor's stream checks (`claude-doctor explain CODE`).",
            ("code", "severity", "gen_ai_request_model"),
            **on,
        )
        self.exchanges = Counter(
            "claude_doctor_exchanges",
            "Exchanges seen, by HTTP status class, how the body ended and the error type.",
            ("gen_ai_request_model", "status_class", "end_reason", "error_type"),
            **on,
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (serve it with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def _gen_ai(self, summary: ExchangeSummary) -> tuple[str, ...]:
        """The GenAI labels of an exchange, worked out (the URL parsed) once for all its chunks."""
        key = (summary.operation, summary.model, summary.url)
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= LABEL_CACHE:
                self._labels.clear()
            port = summary.server_port
            model, server = self._model(summary.model), self._server(summary.server_address)
            labels = self._labels[key] = (summary.operation, PROVIDER, model, server, "" if port is None else str(port))
        return labels

    def exchange_started(self, summary: ExchangeSummary) -> None:
        """Declares the series of a model not seen before, at 0."""
        labels = self._gen_ai(summary)
        if labels in self._declared:
            return
        self._declared.add(labels)
        model = labels[2]
        for code, severity in self._stream_rules:
            self.findings.labels(code, severity, model)
        self.exchanges.labels(model, "2xx", "eof", "")
        for histogram in (self.first_chunk, self.per_chunk, self.longest_gap):
            histogram.labels(*labels)
        self.duration.labels(*labels, "")

    def output_chunk(self, summary: ExchangeSummary, seconds: float) -> None:
        """Called for every chunk: the histogram's child is looked up once per label set."""
        if summary.is_stream:
            labels = self._gen_ai(summary)
            child = self._per_chunk.get(labels)
            if child is None:
                child = self._per_chunk[labels] = self.per_chunk.labels(*labels)
            child.observe(seconds)

    def exchange_finished(self, summary: ExchangeSummary) -> None:
        labels = self._gen_ai(summary)
        model = labels[2]
        error = self._error(summary.error_type)
        if summary.duration is not None:
            self.duration.labels(*labels, error).observe(summary.duration)
        if summary.is_stream and summary.time_to_first_chunk is not None:
            self.first_chunk.labels(*labels).observe(summary.time_to_first_chunk)
        if summary.is_stream and summary.chunks:
            self.longest_gap.labels(*labels).observe(summary.longest_gap)
        for finding in summary.findings:
            self.findings.labels(finding.code, finding.level.label, model).inc()
        self.exchanges.labels(model, status_class(summary.status), summary.end_reason or "none", error).inc()


def status_class(status: int | None) -> str:
    """``2xx`` for 200, …; ``none`` when no response came (the request failed, or the app went away)."""
    return f"{status // 100}xx" if status is not None and 100 <= status <= 599 else "none"
