"""Bulk Read: create a job, poll it, download the zipped CSV, stream its rows.

For modules past the 100,000-record ceiling of paged reads (zoho-api.md 2.6). A job covers up to
200,000 records; the next job continues with the previous job's ``next_page_token`` (or the next
``page`` when Zoho gives no token). Rows come back as ``dict[str, str]``: Zoho's CSV text, ids
untouched (never numbers). The result URL is built from the job id (``/crm/bulk/v8/read/{id}/result``)
rather than taken from ``download_url``, which Zoho's own samples show with another version.
"""

from __future__ import annotations

import csv
import io
import logging
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector import answers
from connector.answers import BulkCreateAnswer, BulkStatusAnswer
from connector.errors import FatalError, RejectedError, RetriableError
from connector.transport import Reply, Transport

log = logging.getLogger(__name__)

BULK_READ_PATH = "/crm/bulk/v8/read"
DEFAULT_POLL_INTERVAL_S = 5.0
DEFAULT_POLL_TIMEOUT_S = 3600.0
_MAX_JOBS = 1000  # 200 million records: a cap so a misbehaving server cannot loop forever


@dataclass(frozen=True)
class BulkJob:
    id: str
    state: str  # ADDED, QUEUED, IN PROGRESS, COMPLETED, FAILURE
    count: int | None = None
    more_records: bool = False
    next_page_token: str | None = None
    page: int | None = None
    error: Mapping[str, Any] | None = None

    @classmethod
    def from_zoho(cls, item: Mapping[str, Any]) -> BulkJob:
        result = item.get("result") or {}
        return cls(
            id=str(item["id"]),
            state=str(item.get("state") or ""),
            count=result.get("count"),
            more_records=bool(result.get("more_records")),
            next_page_token=result.get("next_page_token"),
            page=result.get("page"),
            error=result.get("error_message"),
        )


class BulkReader:
    """Runs Bulk Read jobs through the one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        timeout_s: float = DEFAULT_POLL_TIMEOUT_S,
    ) -> None:
        self._transport = transport
        self._sleep = sleep
        self._monotonic = monotonic
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s

    def create(
        self,
        module: str,
        fields: Sequence[str],
        *,
        criteria: Mapping[str, Any] | None = None,
        page: int = 1,
        page_token: str | None = None,
    ) -> str:
        """Start a job; returns its id. Not retried after it may have reached Zoho (a second job)."""
        query: dict[str, Any]
        if page_token is not None:
            query = {"page_token": page_token}  # the token carries the rest (Zoho's sample sends only it)
        else:
            query = {"module": {"api_name": module}, "fields": list(fields), "page": page}
            if criteria is not None:
                query["criteria"] = criteria
        reply = self._transport.send("POST", BULK_READ_PATH, json_body={"query": query}, safe=False)
        body = answers.decode(reply, "POST")
        if reply.status >= 400 and isinstance(body, Mapping) and body.get("code"):
            raise RejectedError(
                f"Zoho refused the Bulk Read job: {body.get('message') or body['code']}",
                code=str(body["code"]),
                status=reply.status,
                url=reply.url,
                details=dict(body.get("details") or {}),
            )
        if body is None:
            raise answers.malformed(reply, "POST", "", "a JSON object naming the new job", f"{reply.status} without a body")
        item = answers.validate(BulkCreateAnswer, body, reply, "POST").data[0]
        if reply.status >= 400 or item.status != "success":
            raise FatalError(f"Zoho refused the Bulk Read job: {item.code}: {item.message}", code=item.code,
                             status=reply.status, url=reply.url)
        if item.details is None:
            raise answers.malformed(reply, "POST", "data[0].details", "an object with the job's id", "nothing")
        return item.details.id

    def status(self, job_id: str) -> BulkJob:
        reply = self._transport.send("GET", f"{BULK_READ_PATH}/{job_id}")
        if reply.status >= 400:
            code, message = _error_of(answers.decode(reply, "GET"))
            raise RejectedError(f"Zoho refused the status of Bulk Read job {job_id}: {message or code}", code=code,
                                status=reply.status, url=reply.url)
        body = answers.decode(reply, "GET")
        if body is None:
            raise answers.malformed(reply, "GET", "", "a JSON object with the job's state", f"{reply.status} without a body")
        job = answers.validate(BulkStatusAnswer, body, reply, "GET").data[0]
        result = job.result
        return BulkJob(
            id=job.id,
            state=job.state,
            count=result.count if result else None,
            more_records=result.more_records if result else False,
            next_page_token=result.next_page_token if result else None,
            page=result.page if result else None,
            error=result.error_message if result else None,
        )

    def wait(self, job_id: str) -> BulkJob:
        """Poll until the job is COMPLETED; a FAILURE or the timeout raises."""
        started = self._monotonic()
        while True:
            job = self.status(job_id)
            if job.state == "COMPLETED":
                return job
            if job.state == "FAILURE":
                err = job.error or {}
                cls = RetriableError if "INTERNAL" in str(err.get("code")) else FatalError
                raise cls(f"Bulk Read job {job_id} failed: {err.get('message')}", code=err.get("code"))
            if self._monotonic() - started >= self.timeout_s:
                raise RetriableError(f"Bulk Read job {job_id} still {job.state} after {self.timeout_s:.0f} s")
            self._sleep(self.poll_interval_s)

    def download(self, job_id: str) -> Iterator[dict[str, str]]:
        """The job's CSV rows, one dict per record, values as text."""
        reply = self._transport.send("GET", f"{BULK_READ_PATH}/{job_id}/result")
        if reply.status >= 400:
            raise FatalError(f"Bulk Read result of job {job_id} not available", status=reply.status, url=reply.url)
        yield from rows_of_zip(reply)

    def read(
        self, module: str, fields: Sequence[str], *, criteria: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, str]]:
        """Every record of ``module`` (matching ``criteria``), job after job."""
        page, token = 1, None
        for _ in range(_MAX_JOBS):
            job_id = self.create(module, fields, criteria=criteria, page=page, page_token=token)
            job = self.wait(job_id)
            log.info("Bulk Read job %s for %s completed with %s records", job_id, module, job.count)
            yield from self.download(job_id)
            if not job.more_records:
                return
            if job.next_page_token:
                token = job.next_page_token
            else:
                page += 1
        raise FatalError(f"Bulk Read of {module} did not end after {_MAX_JOBS} jobs")


def _error_of(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, Mapping):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (str(code) if code is not None else None), (str(message) if message is not None else None)


def rows_of_zip(reply: Reply) -> Iterator[dict[str, str]]:
    """Rows of the one CSV file inside Zoho's zip (the answer ``reply``). An answer that is not a
    zip, holds no single CSV, has no ``id`` column, a row whose id is not a Zoho id, or text that
    is not UTF-8 CSV is a ``CrmResponseError`` (rows already yielded were well-formed)."""

    def bad(field: str, expected: str, got: str) -> Exception:
        return answers.malformed(reply, "GET", field, expected, got)

    try:
        archive = zipfile.ZipFile(io.BytesIO(reply.content))
    except zipfile.BadZipFile:
        raise bad("", "a zip file holding one CSV file", "something else") from None
    with archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        if len(names) != 1:
            raise bad("", "a zip file holding one CSV file", f"{len(names)} CSV files")
        try:
            with archive.open(names[0]) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.DictReader(text)
                if "id" not in (reader.fieldnames or []):
                    raise bad(f"{names[0]}: header", "an id column (Zoho's CSV always has one)", "no id column")
                for line, row in enumerate(reader, start=2):
                    rid = row.get("id")
                    if not (isinstance(rid, str) and rid.isascii() and rid.isdigit()):
                        raise bad(f"{names[0]}: line {line}: id", "a Zoho id (digits)",
                                  "an empty cell" if not rid else "other text")
                    yield row
        except (UnicodeDecodeError, csv.Error, zipfile.BadZipFile, zlib.error, EOFError):
            raise bad(names[0], "UTF-8 CSV text", "text that is not (a broken zip member, or not UTF-8)") from None
