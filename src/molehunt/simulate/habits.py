"""Each person's stable habits, and the string pools (URLs, contents, recipients) they draw from."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from molehunt.simulate.institute import MIXED, Institute, random_token
from molehunt.simulate.vocabulary import DOMAINS, EXTERNAL_COMPANIES, FIRST_NAMES, LAST_NAMES, WORDS

URLS_PER_DOMAIN = 48
CONTENT_POOL = 4096
RECIPIENT_POOL = 24
EXTENSIONS = ("html", "htm", "php", "jsp", "aspx", "asp")


@dataclass
class Habits:
    """Per-person behaviour parameters (arrays indexed by user) and shared string pools."""

    start: np.ndarray
    start_sd: np.ndarray
    length: np.ndarray
    after_hours_p: np.ndarray
    weekend_p: np.ndarray
    http_rate: np.ndarray
    email_rate: np.ndarray
    usb_rate: np.ndarray
    files_per_connect: np.ndarray
    unlock_rate: np.ndarray
    other_pc_p: np.ndarray
    local_rate: np.ndarray
    upload_p: np.ndarray
    attach_p: np.ndarray
    personal_mail_p: np.ndarray
    domains: list[str]
    urls: list[str]
    domain_pool: np.ndarray  # (n, 64) domain indices, repeated by preference
    contents: list[str]
    recipients: list[str]  # (n * RECIPIENT_POOL) "to" strings, internal mostly
    external_recipients: list[str]  # (n * RECIPIENT_POOL) personal contacts
    device_tree: list[str]
    doc_size: np.ndarray
    absent: np.ndarray  # (n, days) bool: vacation or sick


def lognormal_mean(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """Lognormal draws with the given arithmetic mean."""
    return np.asarray(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, n))


def url_pool(rng: np.random.Generator, domains: list[str]) -> list[str]:
    """``URLS_PER_DOMAIN`` CERT-style URLs per domain (topic words in the path)."""
    words = np.array(WORDS)
    urls = []
    for domain in domains:
        scheme = "https" if domain.startswith(("www.dropbox", "drive.", "mail.")) else "http"
        for _ in range(URLS_PER_DOMAIN):
            a, b = words[rng.integers(0, len(words), 2)].tolist()
            token = random_token(rng, int(rng.integers(6, 14)), MIXED).lower()
            number = int(rng.integers(10_000, 2_000_000_000))
            ext = EXTENSIONS[int(rng.integers(0, len(EXTENSIONS)))]
            urls.append(f"{scheme}://{domain}/{a.title()}_{b}/{b}/{token}{number}.{ext}")
    return urls


def domain_preferences(
    rng: np.random.Generator, institute: Institute, index: dict[str, list[int]]
) -> np.ndarray:
    """64 weighted domain picks per person; a few benign people like job, cloud or leak sites."""
    n = institute.size
    admin = institute.is_admin()
    pool = np.zeros((n, 64), dtype=np.int64)
    for person in range(n):
        favourites = list(rng.choice(index["general"], 10, replace=False))
        favourites += list(rng.choice(index["news"], 3, replace=False))
        favourites += list(rng.choice(index["work"], 3, replace=False))
        if rng.random() < 0.45:
            favourites.append(int(rng.choice(index["webmail"])))
        # Calibrated on the real CERT r4.2 insiders' ordinary days (bench/quality_real.py):
        # most people visit a job board or an employer's site now and then (1-5 requests a
        # day), a few browse several habitually, and they mostly stay.
        if rng.random() < 0.6:
            favourites.append(int(rng.choice(index["job"])))
        if rng.random() < 0.12:
            favourites += list(rng.choice(index["job"], 3, replace=False))
        if rng.random() < 0.10:
            favourites.append(int(rng.choice(index["cloud"])))
        if rng.random() < 0.05:
            favourites.append(int(rng.choice(index["filesharing"])))
        if rng.random() < 0.03:
            favourites.append(int(rng.choice(index["leak"])))
        if admin[person] and rng.random() < 0.4:
            favourites.append(int(rng.choice(index["hacking"])))
        order = rng.permutation(len(favourites))
        weights = 1.0 / (1.0 + np.arange(len(favourites))) ** 0.9
        picks = rng.choice(len(favourites), 64, p=weights / weights.sum())
        pool[person] = np.array(favourites, dtype=np.int64)[order][picks]
    return pool


def recipient_pools(rng: np.random.Generator, institute: Institute) -> tuple[list[str], list[str]]:
    """Per person, ``RECIPIENT_POOL`` work "to" strings and as many personal ones."""
    n = institute.size
    team_of: dict[str, list[int]] = {}
    for person in range(n):
        team_of.setdefault(institute.departments[person] + institute.teams[person], []).append(
            person
        )
    outsiders = [
        f"{str(rng.choice(FIRST_NAMES))}_{str(rng.choice(LAST_NAMES))}@{str(rng.choice(EXTERNAL_COMPANIES))}"
        for _ in range(max(50, n // 2))
    ]
    work: list[str] = []
    personal: list[str] = []
    for person in range(n):
        mates = team_of[institute.departments[person] + institute.teams[person]]
        friends = rng.integers(0, n, 3 + int(institute.psychometric[person, 2]) // 5).tolist()
        contacts = [institute.emails[k] for k in mates + friends if k != person]
        contacts = contacts or [institute.emails[(person + 1) % n]]
        if institute.supervisor[person] >= 0:
            contacts.append(institute.emails[int(institute.supervisor[person])])
        for _ in range(RECIPIENT_POOL):
            k = 1 + int(rng.poisson(0.4))
            to = [str(rng.choice(contacts)) for _ in range(k)]
            if rng.random() < 0.15:
                to.append(str(rng.choice(outsiders)))
            work.append(";".join(dict.fromkeys(to)))
        home = [institute.personal_emails[int(k)] for k in rng.integers(0, n, 4)]
        for _ in range(RECIPIENT_POOL):
            personal.append(str(rng.choice(home)))
    return work, personal


def absences(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Vacation blocks (about 15 days a year) and single sick days (about 5 a year)."""
    absent = np.zeros((n, days), dtype=bool)
    for person in range(n):
        blocks = rng.poisson(3.0 * days / 365.0)
        for _ in range(int(blocks)):
            first = int(rng.integers(0, days))
            absent[person, first : first + int(rng.integers(1, 10))] = True
        sick = rng.integers(0, days, rng.poisson(5.0 * days / 365.0))
        absent[person, sick] = True
    return absent


def build_habits(rng: np.random.Generator, institute: Institute, days: int) -> Habits:
    """Draw every person's habits once; they persist, with daily variance, for the whole run."""
    n = institute.size
    conscientious = institute.psychometric[:, 1].astype(float)
    admin = institute.is_admin()
    usb_user = rng.random(n) < 0.22
    usb_rate = np.where(usb_user, lognormal_mean(rng, 2.8, 1.0, n), 0.0)
    domain_names: list[str] = []
    index: dict[str, list[int]] = {}
    for category, names in DOMAINS.items():
        index[category] = list(range(len(domain_names), len(domain_names) + len(names)))
        domain_names.extend(names)
    pool = domain_preferences(rng, institute, index)
    cloud = set(index["cloud"])
    uses_cloud = np.array([any(int(d) in cloud for d in row[:64]) for row in pool])
    words = np.array(WORDS)
    contents = [
        " ".join(words[rng.integers(0, len(words), int(rng.integers(8, 22)))].tolist())
        for _ in range(CONTENT_POOL)
    ]
    work, personal = recipient_pools(rng, institute)
    return Habits(
        start=np.clip(rng.normal(8.0, 0.9, n) + (30 - conscientious) / 40, 5.5, 11.5),
        start_sd=rng.uniform(0.08, 0.4, n),
        length=np.clip(rng.normal(8.7, 0.8, n), 6.0, 11.0),
        # system administrators work after hours on most days (the real r4.2 scenario-3
        # insiders on 88% of their days); others now and then
        after_hours_p=np.where(
            rng.random(n) < 0.3 + 0.5 * admin,
            np.where(admin, rng.uniform(0.4, 0.95, n), rng.uniform(0.03, 0.4, n)),
            0.0,
        ),
        weekend_p=np.where(rng.random(n) < 0.15 + 0.3 * admin, rng.uniform(0.05, 0.35, n), 0.0),
        http_rate=lognormal_mean(rng, 95.0, 0.6, n),
        email_rate=lognormal_mean(rng, 7.0, 0.5, n) * np.where(admin, 0.6, 1.0),
        usb_rate=usb_rate,
        files_per_connect=lognormal_mean(rng, 3.2, 0.9, n),
        unlock_rate=lognormal_mean(rng, 0.35, 0.8, n),
        other_pc_p=np.where(
            admin,
            rng.uniform(0.2, 0.6, n),
            np.where(rng.random(n) < 0.15, rng.uniform(0.02, 0.2, n), 0.0),
        ),
        local_rate=lognormal_mean(rng, 1.2, 0.8, n),
        upload_p=np.where(uses_cloud, rng.uniform(0.02, 0.15, n), 0.0),
        attach_p=rng.uniform(0.1, 0.35, n),
        personal_mail_p=np.where(rng.random(n) < 0.5, rng.uniform(0.05, 0.25, n), 0.0),
        domains=domain_names,
        urls=url_pool(rng, domain_names),
        domain_pool=pool,
        contents=contents,
        recipients=work,
        external_recipients=personal,
        device_tree=[
            "R:\\;"
            + ";".join(
                [f"R:\\{random_token(rng, 7, MIXED)}" for _ in range(int(rng.integers(0, 3)))]
                + [f"R:\\{uid}"]
            )
            for uid in institute.user_ids
        ],
        doc_size=lognormal_mean(rng, 600_000.0, 1.0, len(institute.documents.paths)).astype(
            np.int64
        )
        + 1024,
        absent=absences(rng, n, days),
    )


def holidays(start: datetime.date, days: int) -> np.ndarray:
    """Boolean mask of US federal holidays (observed) over the simulated days."""
    mask = np.zeros(days, dtype=bool)
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        mask[offset] = is_holiday(day)
    return mask


def is_holiday(day: datetime.date) -> bool:
    """True on a US federal holiday (fixed dates moved off weekends, and the weekday ones)."""
    for month, dom in ((1, 1), (7, 4), (11, 11), (12, 25)):
        fixed = datetime.date(day.year, month, dom)
        if fixed.weekday() == 5:
            fixed -= datetime.timedelta(days=1)
        elif fixed.weekday() == 6:
            fixed += datetime.timedelta(days=1)
        if day == fixed:
            return True
    nth = (day.day - 1) // 7 + 1
    last = (day + datetime.timedelta(days=7)).month != day.month
    rules = (
        (1, 0, nth == 3),
        (2, 0, nth == 3),
        (5, 0, last),
        (9, 0, nth == 1),
        (10, 0, nth == 2),
        (11, 3, nth == 4),
    )
    return any(day.month == m and day.weekday() == wd and ok for m, wd, ok in rules)
