"""Live-room signalling relay benchmark (/ws/room/<code>/), over real WebSockets against daphne.

1. Relay latency: BENCH_ROOMS rooms (a mentor and one learner with a confirmed booking each), both
   members connected; every socket sends its peer a `signal` every BENCH_INTERVAL_MS (a ~200-byte
   ICE candidate, every BENCH_OFFER_EVERY-th one a ~3 KB offer) for BENCH_SECONDS. Latency is the
   time from just before a frame is sent to when the peer's socket reads it (send time embedded in
   the frame, one clock: every socket lives in this process). Measured three ways in one run:
     - naive baseline: the same frames echoed back by a trivial `websockets` server (a process of
       its own), the floor for one hop through a Python server on this machine;
     - one daphne process with the in-memory channel layer;
     - two daphne processes with the Redis channel layer, the mentor on one and the learner on the
       other (only with BENCH_REDIS_URL or REDIS_URL; that Redis database is flushed first).
2. Idle connections: one daphne process, BENCH_IDLE members of other rooms connected (in
   batches of BENCH_BATCH); its RSS before, while they are held and after they disconnect, then
   once more with the same number reconnected (memory that was handed back or reused shows as no
   new growth).
Connect times (the consumer writes presence rows; SQLite serialises those) are reported apart from
the relay latency. Nothing here asserts a timing: it prints figures next to the issue's goals.

Usage (the database is created from scratch; never point it at real data):
  python bench/room_relay.py                                  # SQLite in a temp folder
  BENCH_REDIS_URL=redis://127.0.0.1:6379/5 python bench/room_relay.py
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerlearn_room_bench python bench/room_relay.py
Options: BENCH_ROOMS (200), BENCH_IDLE (2000), BENCH_SECONDS (20), BENCH_WARMUP (2),
BENCH_INTERVAL_MS (1000), BENCH_OFFER_EVERY (10), BENCH_BATCH (100), BENCH_SETTLE (5: seconds
to wait before reading memory after a disconnect).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOMS = int(os.environ.get("BENCH_ROOMS", "200"))
IDLE = int(os.environ.get("BENCH_IDLE", "2000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
# An "active" room: one signal a second each way, without pause. A real negotiation is a burst of
# about twenty frames and then silence until the next ICE restart or screen share, so this is
# several times what 200 calls send; BENCH_INTERVAL_MS=100 is the stress run (saturation).
INTERVAL = float(os.environ.get("BENCH_INTERVAL_MS", "1000")) / 1000
OFFER_EVERY = int(os.environ.get("BENCH_OFFER_EVERY", "10"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
SETTLE = float(os.environ.get("BENCH_SETTLE", "5"))
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL")
ASGI = os.environ.get("BENCH_ASGI", "backend.asgi:application")  # to try a patched application
NOFILE = max(IDLE, 2 * ROOMS) * 2 + 1024  # both ends of every socket live on this machine

ICE = "candidate:842163049 1 udp 1677729535 203.0.113.7 {port} typ srflx raddr 10.0.0.5 rport 51234 generation 0 ufrag 4ZcD network-cost 999"
SDP_TAIL = "".join(
    f"a=candidate:{i} 1 udp 2122260223 192.168.1.{i} {50000 + i} typ host generation 0 network-id 1\r\n"
    for i in range(34)
)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE if hard == resource.RLIM_INFINITY else min(hard, max(soft, NOFILE))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --- signalling-sized frames, each carrying its send time ------------------------------------------
def candidate(ns: int) -> dict:
    return {
        "candidate": {
            "candidate": ICE.format(port=40000 + ns % 20000) + f" ts {ns}",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "4ZcD",
        }
    }


def offer(ns: int) -> dict:
    sdp = (
        f"v=0\r\no=- {ns} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:4ZcD\r\na=ice-pwd:2/1muCWoOi3uLifh0NuRHlDk\r\na=ice-options:trickle\r\n"
        "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n"
        "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n"
        "a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n" + SDP_TAIL
    )
    return {"description": {"type": "offer", "sdp": sdp}}


def sent_at(data: dict) -> int:
    if "candidate" in data:
        return int(data["candidate"]["candidate"].rsplit(" ", 1)[1])
    return int(data["description"]["sdp"].split("\r\n", 2)[1].split()[1])


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


# --- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen):
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def start(args: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
    log = open(Path(os.environ["PEERLEARN_DATA_DIR"]) / f"{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env or os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_nofile,
    )


def daphne(port: int, name: str, redis: str | None = None) -> subprocess.Popen:
    env = os.environ.copy()
    env.pop("REDIS_URL", None)
    if redis:
        env["REDIS_URL"] = redis
    proc = start(["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), ASGI], name, env)
    wait_port(port, proc)
    return proc


def stop(proc: subprocess.Popen):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_problems(name: str) -> list[str]:
    text = (Path(os.environ["PEERLEARN_DATA_DIR"]) / f"{name}.log").read_text(errors="replace")
    return [line for line in text.splitlines() if any(w in line for w in ("Traceback", "ERROR", "WARNING", "Error"))]


def echo_server(port: int):
    """The naive baseline: a `websockets` server that sends every text frame straight back."""
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=2**20):
            await asyncio.Future()

    asyncio.run(main())


# --- database ----------------------------------------------------------------------------------------
def configure():
    os.environ["PEERLEARN_DATA_DIR"] = tempfile.mkdtemp(prefix="peerlearn-room-bench-")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("JWT_ACCESS_MINUTES", "240")  # tokens are checked at connect; the run is long
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
        import psycopg

        url = os.environ["DATABASE_URL"]
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        # Embedded SQLite (WAL): every daphne process opens the same file under PEERLEARN_DATA_DIR.
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def load() -> tuple[list, list]:
    """(relay rooms, idle rooms): each a (code, mentor token, learner token)."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from backend.accounts.models import LearnerProfile, MentorProfile, User
    from backend.marketplace.models import Booking, Domain, Session

    call_command("migrate", verbosity=0)
    idle_rooms = -(-IDLE // 2)
    count = ROOMS + idle_rooms
    password = make_password("bench-password-1")
    domain = Domain.objects.order_by("position").first()
    starts = timezone.now().replace(microsecond=0) + timedelta(minutes=5)  # the room is open
    with transaction.atomic():
        mentors = User.objects.bulk_create(
            [
                User(email=f"m{i}@bench.local", full_name=f"Mentor {i}", role="mentor", password=password)
                for i in range(count)
            ],
            batch_size=1000,
        )
        MentorProfile.objects.bulk_create(
            [MentorProfile(user=m, approval_state="approved") for m in mentors], batch_size=1000
        )
        learners = User.objects.bulk_create(
            [
                User(email=f"l{i}@bench.local", full_name=f"Learner {i}", role="learner", password=password)
                for i in range(count)
            ],
            batch_size=1000,
        )
        LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in learners], batch_size=1000)
        # One session per mentor: no overlaps (PostgreSQL's exclusion constraint holds).
        sessions = Session.objects.bulk_create(
            [
                Session(
                    mentor=mentors[i],
                    title=f"Room {i}",
                    domain=domain,
                    topics=["Warm-up", "Main problem"],
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=60),
                    duration_minutes=60,
                    capacity=1,
                    state="scheduled",
                    room_code=f"{'r' if i < ROOMS else 'i'}{i:06d}",
                )
                for i in range(count)
            ],
            batch_size=1000,
        )
        Booking.objects.bulk_create(
            [
                Booking(session=s, learner=learners[i], state="confirmed", confirmed_at=starts)
                for i, s in enumerate(sessions)
            ],
            batch_size=1000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rooms = [
        (s.room_code, str(AccessToken.for_user(mentors[i])), str(AccessToken.for_user(learners[i])))
        for i, s in enumerate(sessions)
    ]
    return rooms[:ROOMS], rooms[ROOMS:]


def open_presences() -> int:
    from django.db import close_old_connections

    from backend.rooms.models import Presence

    close_old_connections()
    return Presence.objects.filter(left_at__isnull=True).count()


def close_presences():
    """Between phases: no socket of an earlier server may look present to the next one."""
    from django.utils import timezone

    from backend.rooms.models import Presence

    return Presence.objects.filter(left_at__isnull=True).update(left_at=timezone.now())


async def wait_presences_closed(stall: float = 15) -> tuple[float, int]:
    """(seconds until every presence row was closed or stopped changing, rows still open). Daphne
    kills a disconnect handler still running after its application_close_timeout (10 s): its
    row then stays open."""
    t0 = last_change = time.perf_counter()
    last = -1
    while True:
        left = await asyncio.to_thread(open_presences)
        now = time.perf_counter()
        if left != last:
            last, last_change = left, now
        if left == 0 or now - last_change >= stall:
            return (last_change if left else now) - t0, left
        await asyncio.sleep(0.25)


# --- clients -----------------------------------------------------------------------------------------
class Member:
    """One socket: who it signals to, its seq, and what it saw."""

    def __init__(self, ws, role: str):
        self.ws, self.role = ws, role
        self.me: str | None = None
        self.other: str | None = None
        self.knows_other = asyncio.Event()
        self.seq = 0
        self.last_n: dict[str, int] = {}
        self.reader: asyncio.Task | None = None


class Run:
    """The measurements of one phase."""

    def __init__(self):
        self.window = (float("inf"), float("inf"))  # ns: frames sent inside it are counted
        self.latencies: list[float] = []
        self.timeline: dict[int, list[float]] = {}  # latencies by the second of the window they were sent in
        self.offer_latencies: list[float] = []
        self.sent = 0
        self.received = 0
        self.gaps = 0
        self.frames: dict[str, int] = {}
        self.errors: list[str] = []
        self.connect_ms: list[float] = []
        self.connect_failures: list[str] = []


async def connect(port: int, path: str, token: str | None, role: str, run: Run, *, relay: bool) -> Member | None:
    from websockets.asyncio.client import connect as ws_connect

    t0 = time.perf_counter()
    try:
        ws = await ws_connect(
            f"ws://127.0.0.1:{port}{path}",
            subprotocols=["peerlearn.bearer", token] if token else None,
            origin=f"http://127.0.0.1:{port}",
            compression=None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=10,
            max_size=2**20,
        )
    except Exception as e:
        run.connect_failures.append(f"{type(e).__name__}: {e}"[:200])
        return None
    member = Member(ws, role)
    if relay:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        except Exception as e:
            run.connect_failures.append(f"no welcome: {type(e).__name__}: {e}"[:200])
            await ws.close()
            return None
        if frame["type"] != "welcome":
            run.connect_failures.append(f"instead of welcome: {json.dumps(frame)[:200]}")
            await ws.close()
            return None
        member.me = frame["you"]["peer"]
        for other in frame["members"]:
            if other["role"] != role:
                member.other = other["peer"]
                member.knows_other.set()
    run.connect_ms.append((time.perf_counter() - t0) * 1000)
    member.reader = asyncio.create_task(read(member, run))
    return member


async def read(member: Member, run: Run):
    from websockets.exceptions import ConnectionClosed

    try:
        async for raw in member.ws:
            now = time.perf_counter_ns()
            frame = json.loads(raw)
            kind = frame["type"]
            run.frames[kind] = run.frames.get(kind, 0) + 1
            if kind == "signal":
                data = frame["data"]
                t = sent_at(data)
                if "n" in frame:  # relayed (the echo has no numbering)
                    last = member.last_n.get(frame["from"], 0)
                    if frame["n"] != last + 1:
                        run.gaps += 1
                    member.last_n[frame["from"]] = frame["n"]
                if run.window[0] <= t < run.window[1]:
                    run.received += 1
                    ms = (now - t) / 1e6
                    run.latencies.append(ms)
                    run.timeline.setdefault(int((t - run.window[0]) // 1_000_000_000), []).append(ms)
                    if "description" in data:
                        run.offer_latencies.append(ms)
            elif kind == "member.joined" and frame["member"]["role"] != member.role:
                member.other = frame["member"]["peer"]
                member.knows_other.set()
            elif kind in ("error", "refused", "signal.lost"):
                if len(run.errors) < 20:
                    run.errors.append(json.dumps(frame)[:300])
    except ConnectionClosed:
        pass


async def send_loop(member: Member, run: Run, t0: float, stop_at: float):
    loop = asyncio.get_running_loop()
    next_at = t0 + random.random() * INTERVAL  # spread the sockets over the interval
    i = 0
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        if loop.time() >= stop_at:
            return
        i += 1
        member.seq += 1
        ns = time.perf_counter_ns()
        data = offer(ns) if i % OFFER_EVERY == 0 else candidate(ns)
        try:
            await member.ws.send(json.dumps({"type": "signal", "to": member.other, "seq": member.seq, "data": data}))
        except Exception:
            return
        if run.window[0] <= ns < run.window[1]:
            run.sent += 1
        next_at += INTERVAL


async def open_rooms(rooms, ports: tuple[int, int], run: Run) -> list[Member]:
    """Mentor first (on ports[0]), then the learner (on ports[1]), rooms in batches."""

    async def room(code, mentor_token, learner_token):
        mentor = await connect(ports[0], f"/ws/room/{code}/", mentor_token, "mentor", run, relay=True)
        learner = await connect(ports[1], f"/ws/room/{code}/", learner_token, "learner", run, relay=True)
        return [m for m in (mentor, learner) if m]

    members = []
    per_batch = max(1, BATCH // 2)
    for first in range(0, len(rooms), per_batch):
        for pair in await asyncio.gather(*(room(*r) for r in rooms[first : first + per_batch])):
            members.extend(pair)
    return members


async def close_all(members: list[Member]):
    for first in range(0, len(members), BATCH):
        await asyncio.gather(*(m.ws.close() for m in members[first : first + BATCH]), return_exceptions=True)
    for m in members:
        if m.reader:
            m.reader.cancel()


async def exchange(members: list[Member], run: Run, pids: list[int]) -> dict:
    """Every member signals its peer for SECONDS; returns rates and CPU use."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2
    now_ns = time.perf_counter_ns()
    run.window = (now_ns + int((0.2 + WARMUP) * 1e9), now_ns + int((0.2 + WARMUP + SECONDS) * 1e9))
    stop_at = t0 + WARMUP + SECONDS
    cpu0 = {pid: cpu_seconds(pid) for pid in pids}
    client0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(send_loop(m, run, t0, stop_at) for m in members))
    wall = time.perf_counter() - wall0
    cpu = {pid: (cpu_seconds(pid) - cpu0[pid]) / wall for pid in pids}
    client_cpu = (time.process_time() - client0) / wall
    await asyncio.sleep(2)  # in flight
    return {"server_cpu": cpu, "client_cpu": client_cpu}


async def relay_phase(rooms, ports: tuple[int, int], pids: list[int], *, echo: bool) -> tuple[Run, dict]:
    run = Run()
    if echo:
        members = []
        for first in range(0, 2 * len(rooms), BATCH):
            batch = range(first, min(first + BATCH, 2 * len(rooms)))
            opened = await asyncio.gather(
                *(connect(ports[0], "/", None, "mentor" if i % 2 == 0 else "learner", run, relay=False) for i in batch)
            )
            members.extend(m for m in opened if m)
        for m in members:
            m.other = "echo-peer-0"
    else:
        members = await open_rooms(rooms, ports, run)
        try:
            await asyncio.wait_for(asyncio.gather(*(m.knows_other.wait() for m in members)), 30)
        except TimeoutError:
            run.connect_failures.append(f"{sum(not m.knows_other.is_set() for m in members)} never learnt their peer")
        members = [m for m in members if m.knows_other.is_set()]
    extra = await exchange(members, run, pids)
    extra["sockets"] = len(members)
    codes = [m.ws.close_code for m in members if m.ws.close_code is not None]
    extra["closed"] = {code: codes.count(code) for code in sorted(set(codes))}  # by the server, mid-run
    t0 = time.perf_counter()
    await close_all(members)
    extra["disconnect_s"], extra["stuck"] = (time.perf_counter() - t0, 0) if echo else await wait_presences_closed()
    return run, extra


async def idle_phase(rooms, port: int, pid: int) -> dict:
    out = {}
    # Warm-up: a room's worth of sockets in and out, so imports, pools and caches are paid for.
    warm = Run()
    members = await open_rooms(rooms[:5], (port, port), warm)
    await asyncio.sleep(0.5)
    await close_all(members)
    await wait_presences_closed()
    await asyncio.to_thread(close_presences)
    await asyncio.sleep(SETTLE)
    out["rss_before"] = rss_kib(pid)
    for round_ in (1, 2):
        run = Run()
        t0 = time.perf_counter()
        members = await open_rooms(rooms, (port, port), run)
        out[f"connect_s_{round_}"] = time.perf_counter() - t0
        out[f"connect_ms_{round_}"] = sorted(run.connect_ms)
        out[f"failures_{round_}"] = run.connect_failures
        await asyncio.sleep(SETTLE)
        out[f"held_{round_}"] = sum(m.ws.close_code is None for m in members)
        out[f"rss_held_{round_}"] = rss_kib(pid)
        out[f"errors_{round_}"] = run.errors
        t0 = time.perf_counter()
        await close_all(members)
        await asyncio.sleep(0)
        waited, out[f"stuck_{round_}"] = await wait_presences_closed()
        out[f"disconnect_s_{round_}"] = waited + (time.perf_counter() - t0)
        await asyncio.to_thread(close_presences)
        await asyncio.sleep(SETTLE)
        out[f"rss_after_{round_}"] = rss_kib(pid)
    return out


# --- report --------------------------------------------------------------------------------------------
def figure(latencies: list[float], q: float) -> str:
    return f"{pct(latencies, q):8.2f} ms" if latencies else "nothing delivered"


def latency_line(name: str, run: Run, extra: dict) -> str:
    lat = sorted(run.latencies)
    lost = run.sent - run.received
    cpu = " + ".join(f"{c * 100:.0f}%" for c in extra["server_cpu"].values())
    seconds = sorted(run.timeline)[:: max(1, int(SECONDS) // 10)]
    timeline = " ".join(f"{pct(sorted(run.timeline[k]), 0.5):.0f}" for k in seconds)
    return (
        f"{name:<26} p50 {pct(lat, 0.5):6.2f}  p99 {pct(lat, 0.99):7.2f}  max {lat[-1] if lat else float('nan'):7.1f} ms"
        f"  offers p99 {pct(sorted(run.offer_latencies), 0.99):6.2f} ms  {run.received / SECONDS:7.0f} msg/s"
        f"  undelivered {lost}  server CPU {cpu}  client CPU {extra['client_cpu'] * 100:.0f}%"
        + f"\n{'':27}p50 ms by second sent: {timeline}"
    )


def main():
    raise_nofile()
    configure()
    from django.db import connection

    print(f"loading {ROOMS} relay rooms and {-(-IDLE // 2)} idle rooms ...", flush=True)
    t0 = time.perf_counter()
    rooms, idle_rooms = load()
    print(f"loaded in {time.perf_counter() - t0:.1f} s ({connection.vendor})", flush=True)
    load_before = os.getloadavg()[0]
    results: dict[str, tuple[Run, dict]] = {}
    problems: dict[str, list[str]] = {}

    # Naive baseline: an echo server of its own.
    port = free_port()
    echo = start([__file__, "--echo", str(port)], "echo")
    try:
        wait_port(port, echo)
        results["baseline"] = asyncio.run(relay_phase(rooms, (port, port), [echo.pid], echo=True))
    finally:
        stop(echo)
    print(latency_line("naive echo baseline", *results["baseline"]), flush=True)

    # One daphne, in-memory channel layer.
    port = free_port()
    server = daphne(port, "daphne-one")
    try:
        results["one"] = asyncio.run(relay_phase(rooms, (port, port), [server.pid], echo=False))
    finally:
        stop(server)
        problems["one process"] = server_problems("daphne-one")
        close_presences()
    print(latency_line("one daphne (in-memory)", *results["one"]), flush=True)

    # Two daphne processes, Redis channel layer: mentor on A, learner on B.
    if REDIS:
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        ports = (free_port(), free_port())
        a = daphne(ports[0], "daphne-a", REDIS)
        b = daphne(ports[1], "daphne-b", REDIS)
        try:
            results["two"] = asyncio.run(relay_phase(rooms, ports, [a.pid, b.pid], echo=False))
        finally:
            stop(a)
            stop(b)
            problems["two processes"] = server_problems("daphne-a") + server_problems("daphne-b")
            close_presences()
        print(latency_line("two daphne + Redis", *results["two"]), flush=True)

    # Idle connections and memory, one daphne.
    port = free_port()
    server = daphne(port, "daphne-idle")
    try:
        idle = asyncio.run(idle_phase(idle_rooms, port, server.pid))
    finally:
        stop(server)
        problems["idle"] = server_problems("daphne-idle")

    # --- summary -------------------------------------------------------------------------------------
    base = sorted(results["baseline"][0].latencies)
    print(
        f"\ndatabase: {connection.vendor}   rooms: {ROOMS} ({2 * ROOMS} sockets)   a signal every "
        f"{INTERVAL * 1000:.0f} ms per socket, every {OFFER_EVERY}th a {len(json.dumps(offer(0)))}-byte offer, "
        f"else {len(json.dumps(candidate(0)))} bytes   {SECONDS:.0f} s measured after {WARMUP:.0f} s warm-up"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before the run and {os.getloadavg()[0]:.1f} "
        "after it (the clients, the servers and anything else running share these CPUs)"
    )
    print(f"{'':28}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'msg/s':>8}{'undeliv':>9}{'gaps':>6}  x baseline p50/p99")
    for key, name in (
        ("baseline", "naive echo baseline"),
        ("one", "one daphne, in-memory"),
        ("two", "two daphne + Redis"),
    ):
        if key not in results:
            print(f"{name:<28}{'(not run: set BENCH_REDIS_URL)':>40}")
            continue
        run, extra = results[key]
        lat = sorted(run.latencies)
        ratio = (
            f"{pct(lat, 0.5) / pct(base, 0.5):5.1f} / {pct(lat, 0.99) / pct(base, 0.99):5.1f}"
            if key != "baseline"
            else ""
        )
        print(
            f"{name:<28}{pct(lat, 0.5):9.2f}{pct(lat, 0.99):9.2f}{(lat[-1] if lat else 0):9.1f}"
            f"{run.received / SECONDS:8.0f}{run.sent - run.received:9d}{run.gaps:6d}  {ratio}"
        )
    print(f"{'goal at 200 active rooms':<28}{'<= 5':>9}{'<= 25':>9}")
    for key in ("one", "two"):
        if key in results:
            run, extra = results[key]
            ms = sorted(run.connect_ms)
            print(
                f"connect ({key}): {extra['sockets']} sockets joined, connect->welcome p50 {pct(ms, 0.5):.0f} ms "
                f"p99 {pct(ms, 0.99):.0f} ms, {len(run.connect_failures)} failed; presences closed after {extra['disconnect_s']:.1f} s, "
                f"{extra['stuck']} left open (disconnect handler killed)"
            )
            if extra["closed"]:
                print(f"    sockets the server closed during the exchange, by close code: {extra['closed']}")
            for failure in run.connect_failures[:5]:
                print("   ", failure)
            for error in run.errors[:5]:
                print("    error frame:", error)

    count = 2 * len(idle_rooms)
    print(f"\nidle connections, one daphne (in-memory layer): {count} sockets in batches of {BATCH}")
    print(f"RSS after warm-up {idle['rss_before'] / 1024:.1f} MiB")
    for round_ in (1, 2):
        held, rss_held, rss_after = idle[f"held_{round_}"], idle[f"rss_held_{round_}"], idle[f"rss_after_{round_}"]
        ms = idle[f"connect_ms_{round_}"]
        print(
            f"round {round_}: held {held}/{count} ({len(idle[f'failures_{round_}'])} failed) in "
            f"{idle[f'connect_s_{round_}']:.1f} s (connect->welcome p50 {pct(ms, 0.5):.0f} ms, p99 {pct(ms, 0.99):.0f} ms); "
            f"RSS {rss_held / 1024:.1f} MiB = {(rss_held - idle['rss_before']) / max(held, 1):.1f} KiB/connection; "
            f"presences closed after {idle[f'disconnect_s_{round_}']:.1f} s ({idle[f'stuck_{round_}']} left open); RSS {SETTLE:.0f} s later {rss_after / 1024:.1f} MiB "
            f"({(rss_held - rss_after) / max(rss_held - idle['rss_before'], 1) * 100:.0f}% of the growth returned)"
        )
        for failure in idle[f"failures_{round_}"][:5]:
            print("   ", failure)
        for error in idle[f"errors_{round_}"][:5]:
            print("    error frame:", error)
    grew = idle["rss_held_2"] - idle["rss_held_1"]
    print(f"round 2 peak vs round 1 peak: {grew / 1024:+.1f} MiB (near 0 when the memory freed was reused)")

    print("\nsummary                               measured                 goal")
    one = sorted(results["one"][0].latencies)
    print(f"relay p50, one process, {ROOMS} rooms     {figure(one, 0.5)}              <= 5 ms")
    print(f"relay p99, one process, {ROOMS} rooms     {figure(one, 0.99)}              <= 25 ms")
    if "two" in results:
        two = sorted(results["two"][0].latencies)
        print(f"relay p50, two processes + Redis     {figure(two, 0.5)}              <= 5 ms")
        print(f"relay p99, two processes + Redis     {figure(two, 0.99)}              <= 25 ms")
    print(f"idle connections held, one process   {idle['held_1']:8d}                 >= 2000")
    per = (idle["rss_held_1"] - idle["rss_before"]) / max(idle["held_1"], 1)
    print(f"memory per connection                {per:8.1f} KiB             <= 100 KiB")
    returned = (idle["rss_held_1"] - idle["rss_after_1"]) / max(idle["rss_held_1"] - idle["rss_before"], 1) * 100
    print(f"memory returned after disconnects    {returned:8.0f} % to the OS, round 2 growth {grew / 1024:+.1f} MiB")
    for name, lines in problems.items():
        if lines:
            print(f"\nserver log ({name}): {len(lines)} warning/error lines, first ones:")
            for line in lines[:8]:
                print("   ", line[:300])
    print(f"\nserver logs in {os.environ['PEERLEARN_DATA_DIR']}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--echo":
        echo_server(int(sys.argv[2]))
    else:
        main()
