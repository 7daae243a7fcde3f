"""The monthly revenue report as an A4 PDF (fpdf2, pure Python, nothing fetched at run time):
the summary and the per-mentor table of the page, on one or two pages.

Fonts: PDF's built-in Helvetica, so nothing is embedded or looked up on the machine. Its
encoding is Latin-1, which has no ₹: amounts read "INR 1,234.50" (as accounting documents
often do), and names outside Latin-1 are spelt as closely as it allows (accents dropped, other
letters as "?"); the e-mail under each name keeps every mentor identifiable."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

# At most this many mentors are listed; the rest are one "other mentors" line, so the table
# still adds up and the document stays within two pages.
PDF_MENTOR_ROWS = 30
INK = (21, 21, 21)
MUTED = (96, 96, 96)
BRAND = (255, 87, 52)
RULE = (220, 220, 215)
SHADE = (247, 247, 245)
# Punctuation Latin-1 lacks, and letters Unicode does not decompose into a base letter.
SPELLINGS = str.maketrans(
    {
        "–": "-",
        "—": "-",
        "−": "-",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "ı": "i",
        "Œ": "OE",
        "œ": "oe",
    }
)


def latin1(text: str) -> str:
    """Text the core fonts can draw."""
    text = text.translate(SPELLINGS)
    out = []
    for char in text:
        try:
            char.encode("latin-1")
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            char = base if base and base.isascii() else "?"
        out.append(char)
    return "".join(out)


def inr_text(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), 100)
    return f"{sign}INR {rupees:,}.{rest:02d}"


class _ReportPDF(FPDF):
    footer_note = ""

    def footer(self):
        self.set_y(-14)
        self.set_font("Helvetica", size=7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 4, latin1(self.footer_note), align="L")
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11.5)
    pdf.set_text_color(*INK)
    pdf.cell(0, 7, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)


def _summary(pdf: FPDF, lines: list[dict]) -> None:
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(62, 38, 80),
        text_align=("LEFT", "RIGHT", "LEFT"),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        first_row_as_headings=False,
        line_height=5.6,
        padding=(0.6, 2),
    ) as table:
        for line in lines:
            parent = line["level"] == 0
            style = FontFace(emphasis="BOLD" if parent else None, color=INK if parent else MUTED)
            row = table.row(style=style)
            row.cell(latin1(("    " if not parent else "") + line["label"]))
            row.cell(inr_text(line["paise"]))
            row.cell(latin1(line["note"]), style=FontFace(emphasis="", color=MUTED, size_pt=8))


MENTOR_COLUMNS = (  # heading, key, width (mm)
    ("Payments", "payments", 15),
    ("Gross", "gross", 22),
    ("Mentor share", "share", 22),
    ("Platform fee", "fee", 20),
    ("Refunds", "refunds", 20),
    ("Net", "net", 22),
    ("Payouts", "payouts", 20),
)


def _figures(row: dict) -> list[str]:
    return [str(row[key]) if key == "payments" else inr_text(row[key]) for _, key, _ in MENTOR_COLUMNS]


def _others(rows: list[dict]) -> dict:
    keys = [key for _, key, _ in MENTOR_COLUMNS]
    return {key: sum(row[key] for row in rows) for key in keys}


def _mentors(pdf: FPDF, mentors: list[dict], totals: dict) -> None:
    if not mentors:
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, "No money moved for any mentor this month.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    shown, rest = mentors[:PDF_MENTOR_ROWS], mentors[PDF_MENTOR_ROWS:]
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(39, *(width for _, _, width in MENTOR_COLUMNS)),
        text_align=("LEFT", *("RIGHT" for _ in MENTOR_COLUMNS)),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", color=INK, fill_color=SHADE, size_pt=7.5),
        line_height=4.2,
        padding=(0.8, 1.2),
        repeat_headings=1,
    ) as table:
        head = table.row()
        for heading in ("Mentor", *(heading for heading, _, _ in MENTOR_COLUMNS)):
            head.cell(heading)
        for mentor in shown:
            row = table.row(style=FontFace(size_pt=7.5, color=INK))
            name = mentor["name"] or "(no mentor)"
            row.cell(latin1(f"{name}\n{mentor['email']}") if mentor["email"] else latin1(name))
            for value in _figures(mentor):
                row.cell(value)
        if rest:
            row = table.row(style=FontFace(size_pt=7.5, color=MUTED))
            row.cell(f"{len(rest)} other mentor{'s' if len(rest) != 1 else ''} (see the CSV)")
            for value in _figures(_others(rest)):
                row.cell(value)
        row = table.row(style=FontFace(emphasis="BOLD", size_pt=7.5, color=INK, fill_color=SHADE))
        row.cell("All mentors")
        for value in _figures(totals):
            row.cell(value)


def revenue_pdf(report, lines: list[dict], *, generated_at: datetime) -> bytes:
    """The report (admin_reports_selectors.RevenueReport) and its summary lines as PDF bytes."""
    pdf = _ReportPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"PeerLearn revenue report, {report.label}")
    pdf.set_author("PeerLearn")
    pdf.set_creator("PeerLearn")
    pdf.set_creation_date(generated_at)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.footer_note = (
        f"PeerLearn monthly revenue report, {report.label}. Amounts in Indian rupees (INR), from the payments ledger."
    )
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 5, "PEERLEARN", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_text_color(*INK)
    pdf.cell(0, 10, f"Revenue report: {report.label}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    pdf.set_text_color(*MUTED)
    span = f"{report.month:%-d %B %Y} to {report.last_day:%-d %B %Y}, days in {report.zone}"
    state = "" if report.complete else " (month to date: the month is not over)"
    pdf.multi_cell(
        0,
        4.6,
        latin1(f"{span}{state}. Generated {generated_at:%-d %B %Y, %H:%M} UTC."),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    _heading(pdf, "Summary")
    _summary(pdf, lines)
    pdf.set_text_color(*MUTED)
    pdf.set_font("Helvetica", size=7.5)
    pdf.ln(1.5)
    pdf.multi_cell(
        0,
        3.8,
        "Each line comes from the double-entry ledger in whole paise: mentor shares and the platform fee add up "
        "exactly to the gross, and likewise for refunds. A payment counts in the month it was captured, a refund "
        "in the month the gateway confirmed it, a payout in the month it was marked paid.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    _heading(pdf, "By mentor")
    _mentors(pdf, report.mentors, report.totals)
    return bytes(pdf.output())
