"""Create a believable demo: mentors, learners, an admin, sessions, bookings and reviews.

Every account it makes has is_demo=True (the UI labels their sessions "Demo"). Running it twice
changes nothing; --reset removes the demo rows first. It refuses to run on a production
configuration unless --force is given.
"""

from __future__ import annotations

import base64
import random
from datetime import time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role, User
from backend.env import env_str
from backend.marketplace.models import (
    AvailabilityWindow,
    Booking,
    BookingState,
    Domain,
    Review,
    Session,
    SessionState,
)

MENTORS = [
    (
        "Ananya Iyer",
        "Staff engineer, payments at a Bengaluru fintech",
        ["programming", "career"],
        ["Python", "Django", "System design"],
        11,
    ),
    (
        "Rohan Mehta",
        "Data scientist building recommendation systems",
        ["data-science", "programming"],
        ["Machine learning", "SQL", "Pandas"],
        7,
    ),
    (
        "Priya Nair",
        "Product designer, ex-agency, now in consumer apps",
        ["design", "product"],
        ["Figma", "UX research", "Design systems"],
        9,
    ),
    (
        "Vikram Singh",
        "Cloud architect who runs Kubernetes for a living",
        ["cloud", "programming"],
        ["AWS", "Kubernetes", "Terraform"],
        13,
    ),
    (
        "Meera Krishnan",
        "Product manager for B2B SaaS",
        ["product", "business"],
        ["Roadmaps", "Metrics", "Discovery"],
        8,
    ),
    (
        "Arjun Rao",
        "GATE topper and algorithms coach",
        ["exams", "programming"],
        ["DSA", "C++", "Competitive programming"],
        6,
    ),
]
PENDING_MENTOR = ("Kabir Das", "Sitar player and music theory teacher", ["music"], ["Sitar", "Raga theory"], 15)
LEARNERS = [
    "Aditya Kumar",
    "Sneha Reddy",
    "Rahul Verma",
    "Diya Shah",
    "Karthik Menon",
    "Ishita Gupta",
    "Nikhil Joshi",
    "Pooja Pillai",
]
TITLES = {
    "programming": [
        "Django from zero to deployed",
        "Code review of your side project",
        "Cracking system design rounds",
    ],
    "data-science": ["Your first ML model, end to end", "SQL for analytics interviews"],
    "design": ["Portfolio review for designers", "Design systems that scale"],
    "product": ["Writing a PRD people read", "Metrics that matter for PMs"],
    "career": ["Mock interview: backend engineer", "Negotiating your first offer"],
    "business": ["From idea to first 10 customers"],
    "cloud": ["Kubernetes without tears", "AWS cost clinic"],
    "exams": ["GATE CS: graphs in one hour", "DSA patterns for placements"],
    "music": ["Raga basics for beginners"],
}
COMMENTS = [
    "Clear, patient and practical. I left with a plan.",
    "Exactly the feedback I needed before my interview.",
    "Great examples from real projects.",
    "Went deeper than I expected in one hour.",
    "Friendly and to the point. Booking again.",
]


def demo_email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@demo.peerlearn.local"


class Command(BaseCommand):
    help = "Create demo data (marked as demo). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete existing demo data first.")
        parser.add_argument("--force", action="store_true", help="Run even on a production configuration.")
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print demo logins.")

    def handle(self, *args, reset=False, force=False, quiet_logins=False, **options):
        if not (settings.DEBUG or settings.EMBEDDED or force):
            raise CommandError("Refusing to create demo accounts on a production configuration (use --force).")
        password = env_str("DEMO_PASSWORD") or "learn-together-2026"
        rng = random.Random(2026)
        with transaction.atomic():
            if reset:
                self._reset()
            if User.objects.filter(is_demo=True).exists():
                self.stdout.write("Demo data already present.")
            else:
                self._create(password, rng)
        if not quiet_logins:
            self._print_logins(password)

    def _reset(self):
        from backend.payments.models import LedgerEntry, PaymentOrder, PayoutMethod, Refund, Wallet, Withdrawal

        demo = User.objects.filter(is_demo=True)
        # Money rows protect what they record; demo money goes first.
        LedgerEntry.objects.filter(mentor__in=demo).delete()
        Refund.objects.filter(order__payer__in=demo).delete()
        PaymentOrder.objects.filter(payer__in=demo).delete()
        Withdrawal.objects.filter(mentor__in=demo).delete()
        PayoutMethod.objects.filter(mentor__in=demo).delete()
        Wallet.objects.filter(mentor__in=demo).delete()
        Review.objects.filter(booking__learner__in=demo).delete()
        Booking.objects.filter(learner__in=demo).delete()
        Booking.objects.filter(session__mentor__in=demo).delete()
        Session.objects.filter(mentor__in=demo).delete()
        demo.delete()

    def _create(self, password: str, rng: random.Random):
        domains = {d.slug: d for d in Domain.objects.all()}
        now = timezone.now().replace(minute=0, second=0, microsecond=0)

        admin = User.objects.create_user(
            demo_email("Admin Demo"),
            password,
            full_name="Admin Demo",
            role=Role.ADMIN,
            is_demo=True,
            is_superuser=True,
            email_verified_at=now,
        )
        totp = TOTPDevice.objects.create(user=admin, name="Demo authenticator", confirmed=True)
        backup = StaticDevice.objects.create(user=admin, name="Demo backup codes", confirmed=True)
        for index in range(10):
            StaticToken.objects.create(device=backup, token=f"demo{index:04d}")
        self.totp_secret = base64.b32encode(totp.bin_key).decode()

        mentors = []
        for name, headline, slugs, skills, years in [*MENTORS, PENDING_MENTOR]:
            user = User.objects.create_user(
                demo_email(name), password, full_name=name, role=Role.MENTOR, is_demo=True, email_verified_at=now
            )
            pending = name == PENDING_MENTOR[0]
            profile = MentorProfile.objects.create(
                user=user,
                headline=headline,
                skills=skills,
                bio=f"{headline}. I have spent {years} years doing this work and I enjoy helping people skip the mistakes I made. Bring a concrete question and we will leave with next steps.",
                qualifications="Demo profile",
                years_experience=years,
                approval_state=ApprovalState.PENDING if pending else ApprovalState.APPROVED,
                decided_at=None if pending else now,
                decided_by=None if pending else admin,
            )
            profile.domains.set([domains[s] for s in slugs])
            for weekday in (0, 2, 4, 5):
                AvailabilityWindow.objects.create(
                    mentor=user, weekday=weekday, start_time=time(18, 0), end_time=time(21, 0)
                )
            if not pending:
                mentors.append((user, slugs))

        learners = []
        for name in LEARNERS:
            user = User.objects.create_user(
                demo_email(name), password, full_name=name, role=Role.LEARNER, is_demo=True, email_verified_at=now
            )
            profile = LearnerProfile.objects.create(
                user=user, career_goal=rng.choice(["first_job", "switch", "grow", "exam"])
            )
            profile.interests.set(rng.sample(list(domains.values()), 3))
            learners.append(user)

        for mentor_index, (mentor, slugs) in enumerate(mentors):
            for slot in range(5):
                # Two past sessions and three upcoming ones per mentor, never overlapping.
                day_offset = (-9 + slot * 4) if slot < 2 else (slot - 1) * 2 + mentor_index % 3
                starts = now + timedelta(days=day_offset, hours=(mentor_index * 2) % 8 - now.hour + 12)
                slug = slugs[slot % len(slugs)]
                title = TITLES[slug][slot % len(TITLES[slug])]
                past = starts < now
                session = Session.objects.create(
                    mentor=mentor,
                    title=title,
                    description=f"A live one-to-one (or small group) session: {title.lower()}. Bring your questions.",
                    topics=[t for t in title.replace(":", "").split()[:3]],
                    domain=domains[slug],
                    starts_at=starts,
                    duration_minutes=rng.choice([30, 45, 60, 60, 90]),
                    price_paise=rng.choice([0, 49900, 79900, 99900, 149900]),
                    capacity=rng.choice([1, 1, 3, 5]),
                    state=SessionState.COMPLETED if past else SessionState.SCHEDULED,
                )
                attendees = rng.sample(
                    learners, min(session.capacity, rng.randint(0, 3) if not past else max(1, session.capacity))
                )
                for learner in attendees[: session.capacity]:
                    booking = Booking.objects.create(
                        session=session, learner=learner, state=BookingState.CONFIRMED, attended=past
                    )
                    if session.price_paise:
                        self._demo_payment(booking, released=past)
                    if past and rng.random() < 0.8:
                        Review.objects.create(
                            booking=booking, rating=rng.choice([4, 5, 5, 5, 4, 3]), comment=rng.choice(COMMENTS)
                        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created demo data: {len(mentors) + 1} mentors, {len(learners)} learners, {Session.objects.filter(mentor__is_demo=True).count()} sessions."
            )
        )

    def _demo_payment(self, booking: Booking, *, released: bool) -> None:
        """The ledger as if the demo learner had paid (marked demo: no gateway saw it), so
        earnings, balances and receipts show real sums of real entries."""
        from backend.payments import ledger
        from backend.payments.models import OrderState, PaymentOrder

        payment_id = f"pay_demo{booking.pk:08d}"
        posted = ledger.charge(
            mentor_id=booking.session.mentor_id,
            gross_paise=booking.session.price_paise,
            booking=booking,
            reference=payment_id,
            memo="Demo payment",
        )
        PaymentOrder.objects.create(
            booking=booking,
            payer=booking.learner,
            mentor_id=booking.session.mentor_id,
            amount_paise=booking.session.price_paise,
            gateway_order_id=f"order_demo{booking.pk:08d}",
            state=OrderState.PAID,
            payment_id=payment_id,
            fee_paise=posted.fee_paise,
            outcome="demo",
            paid_at=booking.created_at,
        )
        if released:
            ledger.release_booking(mentor_id=booking.session.mentor_id, booking_id=booking.pk)

    def _print_logins(self, password: str):
        self.stdout.write(f"\nDemo logins (password for all: {password})")
        self.stdout.write(f"  learner: {demo_email(LEARNERS[0])}")
        self.stdout.write(f"  mentor:  {demo_email(MENTORS[0][0])}   (approved)")
        self.stdout.write(f"  mentor:  {demo_email(PENDING_MENTOR[0])}   (pending approval)")
        self.stdout.write(
            f"  admin:   {demo_email('Admin Demo')}   (2FA backup codes demo0000 … demo0009, each works once)"
        )
        secret = getattr(self, "totp_secret", None)
        if secret is None:
            device = TOTPDevice.objects.filter(user__email=demo_email("Admin Demo")).first()
            secret = base64.b32encode(device.bin_key).decode() if device else None
        if secret:
            self.stdout.write(f"           TOTP key for an authenticator app: {secret}")
