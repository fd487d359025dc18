"""A class's shared state on the server, in one SQLite file that survives a restart.

A teacher creates a class and gets a short code (what students type) and a secret (what
proves, from the teacher's browser, that they may push, reveal, export and close). The
teacher pushes exercises (a tab, its deep-link settings and a question variant; see
course/exercises.py); students who joined answer each push once; the teacher reveals.

What a student may read is narrow on purpose: their own answers and the class's counts.
Names are returned only to a call that carries the teacher's secret.

Policy for a second answer to the same push: refused, and the first one kept. Predict,
then reveal means committing before seeing: an answer that could be changed after
talking to a neighbour would not be a prediction.

Every refusal is a `ClassError` whose `reason` names the case ("unknown", "expired",
"closed", "full", "not_member", "not_teacher", "answered", "revealed", "no_push"), so
the app can say it in the page's language; `args` fill its message.
Times are passed in (`now`, seconds since the epoch), so tests need no clock.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import secrets
import sqlite3
import threading
from pathlib import Path

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector
CODE_LEN = 6
DEFAULT_CAP = 200
DEFAULT_TTL = 8 * 3600  # a school day
MAX_NAME = 40

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
  code TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, created REAL NOT NULL,
  expires REAL NOT NULL, closed REAL, cap INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
  code TEXT NOT NULL REFERENCES classes(code), student TEXT NOT NULL, name TEXT NOT NULL,
  joined REAL NOT NULL, PRIMARY KEY (code, student));
CREATE TABLE IF NOT EXISTS pushes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL REFERENCES classes(code),
  tab TEXT NOT NULL, settings TEXT NOT NULL, variant INTEGER NOT NULL,
  pushed REAL NOT NULL, revealed REAL);
CREATE TABLE IF NOT EXISTS answers (
  push_id INTEGER NOT NULL REFERENCES pushes(id), student TEXT NOT NULL,
  answer TEXT NOT NULL, label TEXT NOT NULL, correct INTEGER NOT NULL,
  answered REAL NOT NULL, PRIMARY KEY (push_id, student));
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL REFERENCES classes(code),
  student TEXT NOT NULL, arch TEXT NOT NULL, tokens INTEGER NOT NULL,
  val_loss REAL NOT NULL, recorded REAL NOT NULL);
"""


class ClassError(Exception):
    """A refused class action; `reason` is the case, `args_` fill its message."""

    MESSAGES = {
        "unknown": "There is no class with the code {code}: check the code on the board.",
        "expired": "Class {code} has expired; ask the teacher for a new code.",
        "closed": "The teacher has closed class {code}.",
        "full": "Class {code} is full ({cap} students); ask the teacher.",
        "not_member": "You have not joined class {code}: type the code and your name first.",
        "not_teacher": "Only the teacher who created class {code} can do this (this browser "
                       "does not hold its teacher key).",
        "answered": "You already answered this question; your first answer is kept.",
        "revealed": "The answer has been revealed, so this question takes no more answers.",
        "no_push": "The teacher has not pushed this question to class {code}.",
        "name": "Type a name of 1 to {max} characters.",
    }

    def __init__(self, reason: str, **args):
        self.reason, self.args_ = reason, args
        super().__init__(self.MESSAGES[reason].format(**args))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClassStore:
    """Thread-safe: one SQLite connection per thread, WAL journal (readers never wait for
    the writer), and each check-then-write in one IMMEDIATE transaction, so two students
    joining the last seat, or one student answering from two tabs, cannot both win."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)  # runs outside a transaction: it commits itself

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints,
            db.execute("PRAGMA foreign_keys=ON")     # never corrupt; much faster commits
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, *_):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _tx(self):
        return self._Tx(self._db())

    # ---- a class and its door ---------------------------------------------------------

    def create(self, now: float, *, ttl: float = DEFAULT_TTL, cap: int = DEFAULT_CAP,
               rng: random.Random | None = None) -> tuple[str, str]:
        """A new class: (code, teacher secret). `rng` draws the code (a test passes a
        seeded one); the secret always comes from the OS, never from a seed."""
        rng = rng or random.SystemRandom()
        secret = secrets.token_urlsafe(24)
        with self._tx() as db:
            while True:
                code = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
                if not db.execute("SELECT 1 FROM classes WHERE code=?", (code,)).fetchone():
                    break
            db.execute("INSERT INTO classes VALUES (?,?,?,?,NULL,?)",
                       (code, _hash(secret), now, now + ttl, int(cap)))
        return code, secret

    def _open_class(self, db, code: str, now: float) -> sqlite3.Row:
        code = (code or "").strip().upper()
        row = db.execute("SELECT * FROM classes WHERE code=?", (code,)).fetchone()
        if row is None:
            raise ClassError("unknown", code=code or "''")
        if row["closed"] is not None:
            raise ClassError("closed", code=code)
        if now >= row["expires"]:
            raise ClassError("expired", code=code)
        return row

    def _teacher(self, db, code: str, secret: str | None, now: float) -> sqlite3.Row:
        row = self._open_class(db, code, now)
        if not secret or _hash(secret) != row["secret_hash"]:
            raise ClassError("not_teacher", code=row["code"])
        return row

    def info(self, code: str, now: float) -> dict:
        """The class as anyone who knows the code may see it (no names)."""
        db = self._db()
        row = self._open_class(db, code, now)
        n = db.execute("SELECT COUNT(*) FROM members WHERE code=?", (row["code"],)).fetchone()[0]
        return {"code": row["code"], "members": n, "cap": row["cap"],
                "expires": row["expires"], "created": row["created"]}

    def is_teacher(self, code: str, secret: str | None, now: float) -> bool:
        try:
            self._teacher(self._db(), code, secret, now)
            return True
        except ClassError:
            return False

    def join(self, code: str, student: str, name: str, now: float) -> dict:
        """Join (or, for a student already in, come back: a reload or a restart keeps
        their place and answers; a new name replaces the old)."""
        name = " ".join(str(name or "").split())
        if not 1 <= len(name) <= MAX_NAME:
            raise ClassError("name", max=MAX_NAME)
        with self._tx() as db:
            row = self._open_class(db, code, now)
            code = row["code"]
            if db.execute("SELECT 1 FROM members WHERE code=? AND student=?",
                          (code, student)).fetchone():
                db.execute("UPDATE members SET name=? WHERE code=? AND student=?",
                           (name, code, student))
                return {"code": code, "rejoined": True}
            n = db.execute("SELECT COUNT(*) FROM members WHERE code=?", (code,)).fetchone()[0]
            if n >= row["cap"]:
                raise ClassError("full", code=code, cap=row["cap"])
            db.execute("INSERT INTO members VALUES (?,?,?,?)", (code, student, name, now))
        return {"code": code, "rejoined": False}

    def close(self, code: str, secret: str, now: float) -> None:
        with self._tx() as db:
            row = self._teacher(db, code, secret, now)
            db.execute("UPDATE classes SET closed=? WHERE code=?", (now, row["code"]))

    # ---- exercises --------------------------------------------------------------------

    def push(self, code: str, secret: str, tab: str, settings: dict, variant: int,
             now: float) -> int:
        with self._tx() as db:
            row = self._teacher(db, code, secret, now)
            cur = db.execute("INSERT INTO pushes (code, tab, settings, variant, pushed) "
                             "VALUES (?,?,?,?,?)", (row["code"], tab,
                                                    json.dumps(settings, sort_keys=True),
                                                    int(variant), now))
            return int(cur.lastrowid)

    @staticmethod
    def _push_dict(p: sqlite3.Row) -> dict:
        return {"id": p["id"], "tab": p["tab"], "settings": json.loads(p["settings"]),
                "variant": p["variant"], "pushed": p["pushed"],
                "revealed": p["revealed"] is not None}

    def current(self, code: str, now: float) -> dict | None:
        """The latest pushed exercise, or None before the first push."""
        db = self._db()
        row = self._open_class(db, code, now)
        p = db.execute("SELECT * FROM pushes WHERE code=? ORDER BY id DESC LIMIT 1",
                       (row["code"],)).fetchone()
        return self._push_dict(p) if p else None

    def _push(self, db, code: str, push_id: int) -> sqlite3.Row:
        p = db.execute("SELECT * FROM pushes WHERE id=? AND code=?",
                       (int(push_id), code)).fetchone()
        if p is None:
            raise ClassError("no_push", code=code)
        return p

    def answer(self, code: str, student: str, push_id: int, answer, label: str,
               correct: bool, now: float) -> None:
        """Keep one student's answer to one push (graded by the caller, shown after the
        reveal). A second answer, or one after the reveal, is refused."""
        with self._tx() as db:
            row = self._open_class(db, code, now)
            code = row["code"]
            if not db.execute("SELECT 1 FROM members WHERE code=? AND student=?",
                              (code, student)).fetchone():
                raise ClassError("not_member", code=code)
            p = self._push(db, code, push_id)
            if db.execute("SELECT 1 FROM answers WHERE push_id=? AND student=?",
                          (p["id"], student)).fetchone():
                raise ClassError("answered")
            if p["revealed"] is not None:
                raise ClassError("revealed")
            db.execute("INSERT INTO answers VALUES (?,?,?,?,?,?)",
                       (p["id"], student, json.dumps(answer), str(label), int(bool(correct)),
                        now))

    def reveal(self, code: str, secret: str, push_id: int, now: float) -> None:
        with self._tx() as db:
            row = self._teacher(db, code, secret, now)
            p = self._push(db, row["code"], push_id)
            if p["revealed"] is None:
                db.execute("UPDATE pushes SET revealed=? WHERE id=?", (now, p["id"]))

    def own(self, code: str, student: str, push_id: int, now: float) -> dict | None:
        """This student's answer to the push, or None; `correct` only after the reveal."""
        db = self._db()
        row = self._open_class(db, code, now)
        p = self._push(db, row["code"], push_id)
        a = db.execute("SELECT * FROM answers WHERE push_id=? AND student=?",
                       (p["id"], student)).fetchone()
        if a is None:
            return None
        revealed = p["revealed"] is not None
        return {"answer": json.loads(a["answer"]), "label": a["label"],
                "correct": bool(a["correct"]) if revealed else None, "revealed": revealed}

    def spread(self, code: str, push_id: int, now: float) -> dict:
        """The class aggregate anyone in it may see: how many joined and answered, and
        how many gave each answer (no names)."""
        db = self._db()
        row = self._open_class(db, code, now)
        p = self._push(db, row["code"], push_id)
        counts = {r["label"]: r["n"] for r in db.execute(
            "SELECT label, COUNT(*) AS n FROM answers WHERE push_id=? GROUP BY label "
            "ORDER BY n DESC, label", (p["id"],))}
        members = db.execute("SELECT COUNT(*) FROM members WHERE code=?",
                             (row["code"],)).fetchone()[0]
        right = db.execute("SELECT COUNT(*) FROM answers WHERE push_id=? AND correct=1",
                           (p["id"],)).fetchone()[0]
        out = {"members": members, "answered": sum(counts.values()), "counts": counts,
               "revealed": p["revealed"] is not None}
        if out["revealed"]:
            out["right"] = right
        return out

    # ---- the teacher's views ------------------------------------------------------------

    def roster(self, code: str, secret: str, push_id: int | None, now: float) -> list[dict]:
        """Teacher only: each member's name and their answer to the push (or None)."""
        db = self._db()
        row = self._teacher(db, code, secret, now)
        return [dict(r) for r in db.execute(
            "SELECT m.name, a.label AS answer, a.correct FROM members m LEFT JOIN answers a "
            "ON a.student=m.student AND a.push_id=? WHERE m.code=? ORDER BY m.joined",
            (push_id if push_id is not None else -1, row["code"]))]

    def export_csv(self, code: str, secret: str, now: float) -> str:
        """Teacher only: one row per answer, for a gradebook (answers are kept for the
        class's lifetime; the export works on a closed or expired class too)."""
        db = self._db()
        row = db.execute("SELECT * FROM classes WHERE code=?",
                         ((code or "").strip().upper(),)).fetchone()
        if row is None:
            raise ClassError("unknown", code=code or "''")
        if not secret or _hash(secret) != row["secret_hash"]:
            raise ClassError("not_teacher", code=row["code"])
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["class", "question", "tab", "settings", "variant", "student", "answer",
                    "correct", "answered_at"])
        for r in db.execute(
                "SELECT p.id, p.tab, p.settings, p.variant, m.name, a.label, a.correct, "
                "a.answered FROM answers a JOIN pushes p ON p.id=a.push_id JOIN members m "
                "ON m.code=p.code AND m.student=a.student WHERE p.code=? "
                "ORDER BY p.id, a.answered", (row["code"],)):
            w.writerow([row["code"], r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]])
        return out.getvalue()

    # ---- the class's Train-live leaderboard ----------------------------------------------

    def record_run(self, code: str, student: str, arch: str, tokens: int, val_loss: float,
                   now: float) -> None:
        with self._tx() as db:
            row = self._open_class(db, code, now)
            if not db.execute("SELECT 1 FROM members WHERE code=? AND student=?",
                              (row["code"], student)).fetchone():
                raise ClassError("not_member", code=row["code"])
            db.execute("INSERT INTO runs (code, student, arch, tokens, val_loss, recorded) "
                       "VALUES (?,?,?,?,?,?)", (row["code"], student, arch, int(tokens),
                                                float(val_loss), now))

    def leaderboard(self, code: str, now: float, *, secret: str | None = None,
                    student: str | None = None) -> list[dict]:
        """Each member's best validation loss per (arch, token budget), best first. With
        the teacher's secret rows carry names; otherwise a row is "you" or anonymous."""
        db = self._db()
        row = self._open_class(db, code, now)
        teacher = self.is_teacher(code, secret, now)
        rows = db.execute(
            "SELECT r.arch, r.tokens, r.student, m.name, MIN(r.val_loss) AS loss FROM runs r "
            "JOIN members m ON m.code=r.code AND m.student=r.student WHERE r.code=? "
            "GROUP BY r.arch, r.tokens, r.student ORDER BY r.arch, r.tokens, loss",
            (row["code"],)).fetchall()
        out, rank, last = [], 0, None
        for r in rows:
            rank = rank + 1 if (r["arch"], r["tokens"]) == last else 1
            last = (r["arch"], r["tokens"])
            who = r["name"] if teacher else ("you" if r["student"] == student else None)
            out.append({"arch": r["arch"], "tokens": r["tokens"], "rank": rank,
                        "val_loss": r["loss"], "who": who})
        return out
