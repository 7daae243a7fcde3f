"""iCalendar (RFC 5545) invites for bookings. The UID is derived from the booking so it never
changes; SEQUENCE follows the session's reschedule count so calendars update the event."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from backend.marketplace.models import Booking, BookingState


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode()
    parts = []
    while len(raw) > 75:
        cut = 75
        while (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        parts.append(raw[:cut].decode())
        raw = raw[cut:]
    parts.append(raw.decode())
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def booking_invite(booking: Booking) -> str:
    session = booking.session
    cancelled = booking.state == BookingState.CANCELLED or session.state == "cancelled"
    room = f"{settings.SITE_URL}/room/{session.room_code}/"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//PeerLearn//Bookings//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'REQUEST'}",
        "BEGIN:VEVENT",
        f"UID:booking-{booking.pk}@peerlearn",
        f"SEQUENCE:{session.sequence + (1 if cancelled else 0)}",
        f"DTSTAMP:{_utc(session.updated_at)}",
        f"DTSTART:{_utc(session.starts_at)}",
        f"DTEND:{_utc(session.ends_at)}",
        f"SUMMARY:{_escape(session.title)} with {_escape(session.mentor.full_name)}",
        f"DESCRIPTION:{_escape(session.description + chr(10) + chr(10) + 'Join: ' + room)}",
        f"LOCATION:{_escape(room)}",
        f"URL:{room}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED' if booking.state == BookingState.CONFIRMED else 'TENTATIVE'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
