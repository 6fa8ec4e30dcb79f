"""The simulated institute: people, organisation, machines, projects, clearances and documents."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

from molehunt.simulate.vocabulary import (
    DEPARTMENT_WEIGHTS,
    DOCUMENT_EXTENSIONS,
    FIRST_NAMES,
    LAST_NAMES,
    ORGANISATION,
    PROJECT_DEPARTMENTS,
    WEBMAIL_PROVIDERS,
)

LEVELS: tuple[str, ...] = ("UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET")
ALNUM = np.array(list(string.ascii_uppercase + string.digits))
MIXED = np.array(list(string.ascii_letters + string.digits))
# Yearly share of staff who leave; most leavers are innocent.
TURNOVER_PER_YEAR = 0.08


@dataclass
class Documents:
    """The document registry (every file the simulation touches is listed here)."""

    paths: list[str]
    names: list[str]
    extensions: list[str]
    level: np.ndarray  # int index into LEVELS
    project: np.ndarray  # project index or -1
    owner: np.ndarray  # user index


@dataclass
class Institute:
    """Everything static about the simulated organisation (indices are user numbers)."""

    names: list[str]
    user_ids: list[str]
    emails: list[str]
    personal_emails: list[str]
    roles: list[str]
    functional_units: list[str]
    departments: list[str]
    teams: list[str]
    business_units: list[str]
    supervisor: np.ndarray
    projects: list[tuple[int, ...]]
    project_names: list[str]
    project_level: np.ndarray
    clearance: np.ndarray
    pcs: list[str]
    own_pc: np.ndarray
    shared_pcs: np.ndarray
    hire_day: np.ndarray
    leave_day: np.ndarray
    leave_kind: list[str]
    psychometric: np.ndarray
    documents: Documents
    doc_pool_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    doc_pool_len: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    doc_pool: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        """Number of people."""
        return len(self.user_ids)

    def is_admin(self) -> np.ndarray:
        """Boolean mask of system administrators (role ITAdmin)."""
        return np.array([role == "ITAdmin" for role in self.roles])

    def docs_of(self, user: int) -> np.ndarray:
        """Registry indices of the documents a person normally works with."""
        start = int(self.doc_pool_start[user])
        return self.doc_pool[start : start + int(self.doc_pool_len[user])]


def random_token(rng: np.random.Generator, length: int, alphabet: np.ndarray = ALNUM) -> str:
    """A random token such as ``B7RGYJZC`` drawn from ``alphabet``."""
    return "".join(alphabet[rng.integers(0, len(alphabet), length)].tolist())


def make_people(rng: np.random.Generator, n: int) -> tuple[list[str], list[str], list[str]]:
    """Unique full names, CERT-style user ids (initials + 4 digits) and work emails."""
    names: list[str] = []
    seen: dict[str, None] = {}
    used_numbers = rng.permutation(np.arange(1, 10000))[: n * 2].tolist()
    user_ids: list[str] = []
    while len(names) < n:
        first, middle = rng.choice(FIRST_NAMES, 2, replace=False).tolist()
        last = str(rng.choice(LAST_NAMES))
        full = f"{first} {middle} {last}"
        if full in seen:
            continue
        seen[full] = None
        names.append(full)
        user_ids.append(f"{first[0]}{middle[0]}{last[0]}{used_numbers[len(names)]:04d}")
    emails = [name.replace(" ", ".") + "@dtaa.com" for name in names]
    return names, user_ids, emails


def personal_address(rng: np.random.Generator, name: str, user_id: str) -> str:
    """A non-work address such as ``Lynn_A_Pratt@earthlink.net`` or ``MOH68@optonline.net``."""
    first, middle, last = name.split(" ")
    provider = str(rng.choice(WEBMAIL_PROVIDERS))
    style = int(rng.integers(0, 4))
    local = (
        f"{first}_{middle[0]}_{last}",
        f"{last}_{first}",
        f"{first}.{last}{int(rng.integers(1, 99))}",
        f"{user_id[:3]}{int(rng.integers(10, 99))}",
    )[style]
    return f"{local}@{provider}"


def assign_organisation(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Department index, team index within the department, and role for each person."""
    weights = np.array(DEPARTMENT_WEIGHTS, dtype=float)
    department = rng.choice(len(ORGANISATION), n, p=weights / weights.sum())
    team = np.array([rng.integers(0, len(ORGANISATION[d][2])) for d in department.tolist()])
    roles = [str(rng.choice(ORGANISATION[d][3])) for d in department.tolist()]
    admins = [i for i, r in enumerate(roles) if r == "ITAdmin"]
    if not admins:
        # Every institute has at least one system administrator.
        it_department = len(ORGANISATION) - 1
        department[n - 1], team[n - 1], roles[n - 1] = it_department, 0, "ITAdmin"
    return department, team, roles


def assign_supervisors(department: np.ndarray, team: np.ndarray) -> np.ndarray:
    """Team leads report to the department head; everybody else reports to their team lead."""
    n = len(department)
    supervisor = np.full(n, -1, dtype=np.int64)
    head: dict[int, int] = {}
    lead: dict[tuple[int, int], int] = {}
    for person in range(n):
        d, t = int(department[person]), int(team[person])
        if d not in head:
            head[d] = person
        elif (d, t) not in lead:
            lead[(d, t)] = person
            supervisor[person] = head[d]
        else:
            supervisor[person] = lead[(d, t)]
    for person in range(n):
        d, t = int(department[person]), int(team[person])
        if supervisor[person] < 0 and head[d] != person:
            supervisor[person] = head[d]
    return supervisor


def assign_projects(
    rng: np.random.Generator, departments: list[str]
) -> tuple[list[tuple[int, ...]], list[str], np.ndarray]:
    """Projects (compartments) for research and engineering staff, each with a level."""
    n = len(departments)
    n_projects = max(3, n // 25)
    names = [f"Project {k + 1}" for k in range(n_projects)]
    level = rng.choice(4, n_projects, p=[0.25, 0.25, 0.35, 0.15])
    level[0], level[1 % n_projects], level[2 % n_projects] = 2, 3, 1
    projects: list[tuple[int, ...]] = []
    for person in range(n):
        if departments[person] in PROJECT_DEPARTMENTS and rng.random() < 0.85:
            k = 1 if rng.random() < 0.75 else 2
            chosen = sorted(rng.choice(n_projects, k, replace=False).tolist())
            projects.append(tuple(int(p) for p in chosen))
        else:
            projects.append(())
    return projects, names, level


def assign_clearances(
    rng: np.random.Generator, projects: list[tuple[int, ...]], level: np.ndarray, admin: np.ndarray
) -> np.ndarray:
    """Clearance level per person: at least the level of every project they are on."""
    n = len(projects)
    base = rng.choice(4, n, p=[0.45, 0.25, 0.22, 0.08])
    needed = np.array([max((int(level[p]) for p in ps), default=0) for ps in projects])
    clearance = np.maximum(base, needed)
    clearance[admin] = np.maximum(clearance[admin], 2)
    return np.asarray(clearance)


def assign_tenure(
    rng: np.random.Generator, n: int, days: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """First and one-past-last working day per person, and how the leavers left."""
    expected_leavers = TURNOVER_PER_YEAR * n * days / 365.0
    n_leavers = min(n // 3, int(rng.poisson(expected_leavers)))
    n_hires = min(n // 6, n_leavers)
    hire = np.zeros(n, dtype=np.int64)
    leave = np.full(n, days + 10_000, dtype=np.int64)
    order = rng.permutation(n)
    hires = order[:n_hires]
    hire[hires] = rng.integers(days // 10 + 1, max(days // 10 + 2, days - 7), n_hires)
    leavers = order[n_hires : n_hires + n_leavers]
    leave[leavers] = rng.integers(max(8, days // 10), days, n_leavers)
    kind = [""] * n
    for person in leavers.tolist():
        kind[person] = "termination" if rng.random() < 0.15 else "resignation"
    return hire, leave, kind


def build_documents(
    rng: np.random.Generator,
    user_ids: list[str],
    projects: list[tuple[int, ...]],
    project_level: np.ndarray,
) -> Documents:
    """The registry: personal and shared unclassified files plus per-project documents."""
    n = len(user_ids)
    paths: list[str] = []
    names: list[str] = []
    exts: list[str] = []
    level: list[int] = []
    project: list[int] = []
    owner: list[int] = []
    taken: dict[str, None] = {}

    def add(directory: str, doc_level: int, doc_project: int, doc_owner: int) -> None:
        ext = str(rng.choice(DOCUMENT_EXTENSIONS))
        name = random_token(rng, 8) + "." + ext
        while name in taken:
            name = random_token(rng, 8) + "." + ext
        taken[name] = None
        paths.append(f"C:\\{directory}\\{name}" if directory else f"C:\\{name}")
        names.append(name)
        exts.append(ext)
        level.append(doc_level)
        project.append(doc_project)
        owner.append(doc_owner)

    for person in range(n):
        for _ in range(int(rng.integers(6, 16))):
            add(user_ids[person], 0, -1, person)
    shared_dirs = [random_token(rng, 7, MIXED) for _ in range(max(4, n // 40))]
    for _ in range(n * 2):
        add(str(rng.choice(shared_dirs + [""])), 0, -1, int(rng.integers(0, n)))
    members: dict[int, list[int]] = {}
    for person, ps in enumerate(projects):
        for p in ps:
            members.setdefault(p, []).append(person)
    for p in range(len(project_level)):
        directory = random_token(rng, 7, MIXED)
        staff = members.get(p, [int(rng.integers(0, n))])
        top = int(project_level[p])
        for _ in range(int(rng.integers(40, 90))):
            doc_level = int(min(top, rng.choice(4, p=[0.35, 0.25, 0.3, 0.1])))
            add(directory, doc_level, p, int(rng.choice(staff)))
    return Documents(
        paths, names, exts, np.array(level), np.array(project), np.array(owner, dtype=np.int64)
    )


def build_doc_pools(institute: Institute) -> None:
    """Per person, the registry documents they normally touch (own, shared, cleared projects)."""
    docs = institute.documents
    by_owner: dict[int, list[int]] = {}
    shared: list[int] = []
    by_project: dict[int, list[int]] = {}
    for i in range(len(docs.paths)):
        p = int(docs.project[i])
        if p >= 0:
            by_project.setdefault(p, []).append(i)
        elif (
            docs.paths[i].count("\\") == 2
            and docs.paths[i].split("\\")[1] == (institute.user_ids[int(docs.owner[i])])
        ):
            by_owner.setdefault(int(docs.owner[i]), []).append(i)
        else:
            shared.append(i)
    starts: list[int] = []
    lens: list[int] = []
    pool: list[int] = []
    for person in range(institute.size):
        own = by_owner.get(person, [])
        mine = own * 3 + shared[person % 7 :: 7][:20]
        for p in institute.projects[person]:
            mine += [d for d in by_project[p] if docs.level[d] <= institute.clearance[person]] * 2
        starts.append(len(pool))
        lens.append(len(mine))
        pool.extend(mine)
    institute.doc_pool_start = np.array(starts, dtype=np.int64)
    institute.doc_pool_len = np.array(lens, dtype=np.int64)
    institute.doc_pool = np.array(pool, dtype=np.int64)


def build_institute(rng: np.random.Generator, n: int, days: int) -> Institute:
    """Build the whole organisation for ``n`` people over ``days`` days."""
    names, user_ids, emails = make_people(rng, n)
    personal = [personal_address(rng, names[i], user_ids[i]) for i in range(n)]
    department, team, roles = assign_organisation(rng, n)
    admin = np.array([r == "ITAdmin" for r in roles])
    dept_names = [ORGANISATION[d][1] for d in department.tolist()]
    projects, project_names, project_level = assign_projects(rng, dept_names)
    n_pcs = n + max(5, n // 10)
    pc_numbers = rng.permutation(np.arange(1000, 10000))[:n_pcs].tolist()
    hire, leave, kind = assign_tenure(rng, n, days)
    institute = Institute(
        names=names,
        user_ids=user_ids,
        emails=emails,
        personal_emails=personal,
        roles=roles,
        functional_units=[ORGANISATION[d][0] for d in department.tolist()],
        departments=dept_names,
        teams=[
            ORGANISATION[d][2][t] for d, t in zip(department.tolist(), team.tolist(), strict=True)
        ],
        business_units=["1" for _ in range(n)],
        supervisor=assign_supervisors(department, team),
        projects=projects,
        project_names=project_names,
        project_level=project_level,
        clearance=assign_clearances(rng, projects, project_level, admin),
        pcs=[f"PC-{k:04d}" for k in pc_numbers],
        own_pc=np.arange(n, dtype=np.int64),
        shared_pcs=np.arange(n, n_pcs, dtype=np.int64),
        hire_day=hire,
        leave_day=leave,
        leave_kind=kind,
        psychometric=rng.integers(10, 50, size=(n, 5)),
        documents=build_documents(rng, user_ids, projects, project_level),
    )
    build_doc_pools(institute)
    return institute
