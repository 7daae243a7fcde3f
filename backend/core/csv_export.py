"""Streamed CSV downloads: rows leave as they are read, so an export of a huge table never sits
in memory. Every table export (mentor earnings, admin payments, users, sessions, audit log…)
goes through `csv_download`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """csv.writer writes into this and gets the line back, so rows stream one by one."""

    def write(self, value: str) -> str:
        return value


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return f"'{value}" if value.startswith(CSV_FORMULA_STARTS) else value


def csv_rupees(paise: int) -> str:
    return str((Decimal(paise) / 100).quantize(Decimal("0.01")))


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """The header (after a BOM, so spreadsheet apps read the file as UTF-8) and then each row."""
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def batched(lines: Iterable[str], size: int = 200) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def streamed(request, chunks: Iterator[str]):
    """Under ASGI (daphne) Django buffers a sync iterator whole; hand it an async one that pulls
    each chunk (and its database reads) in the sync thread instead."""
    if not isinstance(request, ASGIRequest):
        return chunks
    end = object()

    async def pull():
        while (chunk := await sync_to_async(next)(chunks, end)) is not end:
            yield chunk

    return pull()


def csv_download(request, lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """A streamed attachment of CSV lines (see `csv_lines`); never cached by the browser or the
    service worker, since exports hold personal data."""
    response = StreamingHttpResponse(streamed(request, batched(lines)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
