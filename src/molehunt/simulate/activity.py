"""Benign device, file, email and web events of one day, generated for all people at once."""

from __future__ import annotations

import numpy as np

from molehunt.simulate.behaviour import (
    DayPlan,
    Rows,
    counts,
    doc_choice,
    file_content,
    logon_rows,
    sample_times,
)
from molehunt.simulate.habits import CONTENT_POOL, RECIPIENT_POOL, URLS_PER_DOMAIN, Habits
from molehunt.simulate.institute import Institute

FILE_ACTIVITIES = np.array(["File Copy", "File Write", "File Open", "File Open", "File Delete"])


def device_file_rows(
    rng: np.random.Generator, inst: Institute, habits: Habits, plan: DayPlan
) -> tuple[Rows, Rows]:
    """Thumb-drive connects (some without disconnect), copies while connected, local opens."""
    device, files = Rows("device"), Rows("file")
    slots = counts(rng, plan, habits.usb_rate, habits)
    t, pc, window_end = sample_times(rng, inst, plan, slots)
    users = plan.users[slots]
    duration = np.minimum(rng.exponential(1500, len(slots)) + 60, np.maximum(window_end - t, 60))
    trees = [habits.device_tree[u] for u in users.tolist()]
    device.extend(t, users, pc, tree=trees, activity=["Connect"] * len(slots))
    keep = rng.random(len(slots)) > 0.05
    n_keep = int(keep.sum())
    device.extend(
        t[keep] + duration[keep],
        users[keep],
        pc[keep],
        tree=[""] * n_keep,
        activity=["Disconnect"] * n_keep,
    )
    per_connect = rng.poisson(habits.files_per_connect[users])
    conn = np.repeat(np.arange(len(slots)), per_connect)
    f_users = users[conn]
    f_t = t[conn] + 5 + (rng.random(len(conn)) * (duration[conn] - 10)).astype(np.int64)
    kind = rng.choice(5, len(conn), p=[0.5, 0.15, 0.1, 0.2, 0.05])
    # Local opens of registry documents, part of everybody's work (r6.2 layout only).
    local = counts(rng, plan, habits.local_rate, habits)
    l_t, l_pc, _ = sample_times(rng, inst, plan, local)
    all_users = np.concatenate([f_users, plan.users[local]])
    all_t = np.concatenate([f_t, l_t])
    all_pc = np.concatenate([pc[conn], l_pc])
    all_kind = np.concatenate([kind, np.full(len(local), 9)])
    docs = doc_choice(rng, inst, all_users)
    content = file_content(habits, inst, docs, rng.integers(0, CONTENT_POOL, len(docs)))
    names, paths = inst.documents.names, inst.documents.paths
    filename, activity, to_rem, from_rem = [], [], [], []
    for d, k in zip(docs.tolist(), all_kind.tolist(), strict=True):
        if k == 0 or k == 4:  # copy (or delete) of a local document onto the drive
            filename.append(paths[d])
            to_rem.append("True")
            from_rem.append("False")
        elif k == 1:  # written to the drive under its own name
            filename.append("R:\\" + names[d])
            to_rem.append("True")
            from_rem.append("False")
        elif k in (2, 3):  # opened from the drive
            filename.append("R:\\" + names[d])
            to_rem.append("False")
            from_rem.append("True")
        else:
            filename.append(paths[d])
            to_rem.append("False")
            from_rem.append("False")
        activity.append("File Open" if k == 9 else str(FILE_ACTIVITIES[k]))
    files.extend(
        all_t,
        all_users,
        all_pc,
        filename=filename,
        activity=activity,
        to_removable=to_rem,
        from_removable=from_rem,
        content=content,
    )
    return device, files


def email_rows(rng: np.random.Generator, inst: Institute, habits: Habits, plan: DayPlan) -> Rows:
    """Sent mail: work mail to colleagues (some external), a little personal mail from webmail."""
    rows = Rows("email")
    slots = counts(rng, plan, habits.email_rate, habits)
    t, pc, _ = sample_times(rng, inst, plan, slots)
    users = plan.users[slots]
    n = len(slots)
    personal = rng.random(n) < habits.personal_mail_p[users]
    pick = users * RECIPIENT_POOL + rng.integers(0, RECIPIENT_POOL, n)
    cc_pick = users * RECIPIENT_POOL + rng.integers(0, RECIPIENT_POOL, n)
    has_cc = rng.random(n) < 0.2
    has_bcc = rng.random(n) < 0.04
    n_attach = np.where(rng.random(n) < habits.attach_p[users], rng.integers(1, 4, n), 0)
    size = rng.lognormal(10.1, 0.5, n).astype(np.int64)
    content_pick = rng.integers(0, CONTENT_POOL, n)
    to, cc, bcc, sender, attachments, sizes = [], [], [], [], [], []
    for i, u in enumerate(users.tolist()):
        if personal[i]:
            to.append(habits.external_recipients[pick[i]])
            sender.append(inst.personal_emails[u])
        else:
            to.append(habits.recipients[pick[i]])
            sender.append(inst.emails[u])
        cc.append(habits.recipients[cc_pick[i]] if has_cc[i] and not personal[i] else "")
        bcc.append(habits.recipients[cc_pick[i] - 1] if has_bcc[i] else "")
        if n_attach[i]:
            docs = doc_choice(rng, inst, np.full(int(n_attach[i]), u))
            attachments.append(attachment_text(inst, habits, docs.tolist()))
            sizes.append(int(size[i]) + int(habits.doc_size[docs].sum()))
        else:
            attachments.append("")
            sizes.append(int(size[i]))
    rows.extend(
        t,
        users,
        pc,
        to=to,
        cc=cc,
        bcc=bcc,
        sender=sender,
        activity=["Send"] * n,
        size=sizes,
        attachments=attachments,
        content=[habits.contents[c] for c in content_pick.tolist()],
    )
    return rows


def attachment_text(inst: Institute, habits: Habits, docs: list[int]) -> str:
    """CERT r6.2 attachment list: ``C:\\dir\\NAME.doc(693210);...``."""
    paths = inst.documents.paths
    return ";".join(f"{paths[d]}({int(habits.doc_size[d])})" for d in docs)


def http_rows(rng: np.random.Generator, inst: Institute, habits: Habits, plan: DayPlan) -> Rows:
    """Web visits to favourite domains, a few downloads, and uploads by cloud-storage users."""
    rows = Rows("http")
    slots = counts(rng, plan, habits.http_rate, habits)
    t, pc, _ = sample_times(rng, inst, plan, slots)
    users = plan.users[slots]
    n = len(slots)
    domain = habits.domain_pool[users, rng.integers(0, habits.domain_pool.shape[1], n)]
    url_index = domain * URLS_PER_DOMAIN + rng.integers(0, URLS_PER_DOMAIN, n)
    download = rng.random(n) < 0.03
    urls = [habits.urls[i] for i in url_index.tolist()]
    activity = np.where(download, "WWW Download", "WWW Visit").tolist()
    content = [habits.contents[c] for c in rng.integers(0, CONTENT_POOL, n).tolist()]
    rows.extend(t, users, pc, url=urls, activity=activity, content=content)
    uploaders = np.flatnonzero(rng.random(len(plan.users)) < habits.upload_p[plan.users])
    if len(uploaders):
        slots = np.repeat(uploaders, rng.integers(1, 4, len(uploaders)))
        t, pc, _ = sample_times(rng, inst, plan, slots)
        users = plan.users[slots]
        docs = doc_choice(rng, inst, users)
        cloud = [upload_url(habits, int(u), int(d), inst) for u, d in zip(users, docs, strict=True)]
        rows.extend(
            t,
            users,
            pc,
            url=cloud,
            activity=["WWW Upload"] * len(slots),
            content=file_content(habits, inst, docs, rng.integers(0, CONTENT_POOL, len(docs))),
        )
    return rows


def upload_url(habits: Habits, user: int, doc: int, inst: Institute) -> str:
    """URL of a document uploaded to the person's favourite cloud store."""
    cloud = [
        d
        for d in habits.domain_pool[user].tolist()
        if "dropbox" in habits.domains[d]
        or "drive." in habits.domains[d]
        or "box.com" in habits.domains[d]
        or "onedrive" in habits.domains[d]
    ]
    domain = habits.domains[cloud[0]] if cloud else "www.dropbox.com"
    return f"https://{domain}/home/{inst.user_ids[user].lower()}.aspx/{inst.documents.names[doc]}"


def generate_day(
    rng: np.random.Generator, inst: Institute, habits: Habits, plan: DayPlan
) -> dict[str, Rows]:
    """All benign events of one day, per channel (unsorted)."""
    device, files = device_file_rows(rng, inst, habits, plan)
    return {
        "logon": logon_rows(rng, inst, habits, plan),
        "device": device,
        "file": files,
        "email": email_rows(rng, inst, habits, plan),
        "http": http_rows(rng, inst, habits, plan),
    }
