"""The registered insider scenarios (``scenarios`` maps a name to its generator class)."""

from __future__ import annotations

import numpy as np

from molehunt.simulate.behaviour import DayPlan, Rows
from molehunt.simulate.habits import Habits
from molehunt.simulate.insider import HOUR, Scenario
from molehunt.simulate.institute import Institute
from molehunt.simulate.vocabulary import DOMAINS


def stayers(inst: Institute) -> np.ndarray:
    """People employed for the whole period (insiders need a history and a window)."""
    return np.asarray((inst.hire_day == 0) & (inst.leave_day > 10_000))


class DepartingClassifiedTheftScenario(Scenario):
    """Grievance, money trouble, then weeks of copying classified files before resigning."""

    name = "departing-classified-theft"
    min_days = 42
    leaves = True

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        cleared = (inst.clearance >= 2) & np.array([len(p) > 0 for p in inst.projects])
        return np.asarray(stayers(inst) & cleared)

    def plan(self) -> None:
        length = int(min(self.days * 0.35, int(self.rng.integers(18, 42))))
        notice = int(self.rng.integers(max(self.days // 2, length + 10), self.days - 8))
        self.first, self.last = notice - length, notice - 1
        self.leave(notice + int(self.rng.integers(7, 15)), notice_before=0)
        self.hr[-2] = (self.user, "resignation_notice", notice, "resigned; two weeks notice")
        self.hr.append(
            (
                self.user,
                "grievance",
                self.first - int(self.rng.integers(20, 60)),
                "passed over for promotion; complaint about unfair treatment",
            )
        )
        self.hr.append(
            (
                self.user,
                "financial_stress",
                self.first - int(self.rng.integers(5, 30)),
                "reported debt after failed investments",
            )
        )
        self.trip_after(int(self.inst.leave_day[self.user]), int(self.rng.integers(2, 5)), "no")

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        self.print_before_notice(day, plan, batch)
        if not self.first <= day <= self.last or self.rng.random() > 0.7:
            return
        pc = int(self.inst.own_pc[self.user])
        late = self.rng.random() < 0.4
        t, own_session = self.when(plan, late)
        docs = self.classified(True, int(self.rng.integers(4, 14)))
        docs += self.classified(False, int(self.rng.integers(0, 5)))
        end = self.usb_copy(batch, t + 60, pc, docs)
        if self.rng.random() < 0.5:
            end += int(self.rng.integers(60, 900))
            self.mail(batch, end, pc, self.inst.personal_emails[self.user], docs[:3])
        if own_session:
            self.session(batch, t, pc, end + 120)

    def print_before_notice(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        """Paper copies too: classified documents of the own projects printed on about half of
        the working days before the notice, many pages each."""
        window = plan.window_of(self.user)
        if not self.first <= day <= self.last or window is None:
            return
        if self.print_rng.random() > 0.45:
            return
        start, end = window
        t = int(self.print_rng.uniform(start + 600, max(start + 900, end - 1800)))
        docs = self.classified(True, int(self.print_rng.integers(2, 8)), self.print_rng)
        self.print_docs(batch, t, int(self.inst.own_pc[self.user]), docs, (8, 60))


class Cert1Scenario(Scenario):
    """CERT 1: new after-hours logons and thumb-drive use, uploads to wikileaks.org, leaves."""

    name = "cert-1"
    min_days = 21
    leaves = True

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return np.asarray(stayers(inst) & (habits.usb_rate == 0) & (habits.after_hours_p == 0))

    def plan(self) -> None:
        self.last = int(self.rng.integers(self.days // 2, self.days - 6))
        self.first = self.last - int(self.rng.integers(4, 12))
        # The run-up (real r4.2 insiders, bench/quality_real.py): the first after-hours
        # sessions with a thumb drive come days before the first labelled evening.
        self.run_up = self.first - int(self.rng.integers(2, 10))
        self.leave(self.last + int(self.rng.integers(1, 5)))

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        pc = int(self.inst.own_pc[self.user])
        if self.run_up <= day < self.first:
            if self.rng.random() < 0.4:  # an unlabelled evening: drive in, a few files
                t = int(self.rng.uniform(19.5, 23.0) * HOUR)
                docs = [int(d) for d in self.rng.choice(self.inst.docs_of(self.user), 2)]
                with self.unlabelled():
                    self.session(batch, t, pc, self.usb_copy(batch, t + 300, pc, docs) + 200)
            return
        if not (
            day == self.first
            or day == self.last
            or self.first < day < self.last
            and self.rng.random() < 0.35
        ):
            return
        t = int(self.rng.uniform(0.5, 4.5) * HOUR)
        docs = [int(d) for d in self.rng.choice(self.inst.docs_of(self.user), 3)]
        end = self.usb_copy(batch, t + 300, pc, docs)
        for _ in range(int(self.rng.integers(1, 4))):
            end += int(self.rng.integers(30, 300))
            self.web(batch, end, pc, "wikileaks.org", "WWW Upload", int(self.rng.choice(docs)))
        self.session(batch, t, pc, end + 200)


class Cert2Scenario(Scenario):
    """CERT 2: job hunting at competitors, then thumb-drive theft well above habit, leaves."""

    name = "cert-2"
    min_days = 42
    leaves = True

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        # every scenario-2 insider of the real r4.2 dev set used a thumb drive about twice a
        # day before the theft (bench/quality_real.py): the theft is "more than usual"
        return np.asarray(stayers(inst) & (habits.usb_rate > 0))

    def plan(self) -> None:
        self.last = int(self.rng.integers(self.days // 2 + 14, self.days - 6))
        self.first = max(5, self.last - int(self.rng.integers(28, 56)))
        # real r4.2: about four weeks of job search, then about four of copying
        self.theft = (self.first + self.last) // 2 + int(self.rng.integers(-5, 6))
        self.leave(self.last + int(self.rng.integers(2, 8)))

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        window = plan.window_of(self.user)
        if not self.first <= day <= self.last or window is None:
            return
        pc = int(self.inst.own_pc[self.user])
        t, _ = self.when(plan, False)
        searching = day < self.theft or self.rng.random() < 0.3
        for _ in range(int(self.rng.integers(1, 7)) if searching else 0):
            t += int(self.rng.integers(20, 200))
            self.web(batch, t, pc, str(self.rng.choice(DOMAINS["job"])))
        if searching and self.rng.random() < 0.35:
            self.mail(
                batch,
                t + 60,
                pc,
                f"recruiter@{self.rng.choice(DOMAINS['job'][-5:])}",
                [int(self.rng.choice(self.inst.docs_of(self.user)))],
            )
        if day >= self.theft and self.rng.random() < 0.75:
            # real r4.2: more drive connects than usual (about twice), each with few files
            t = int(window[0]) + int(self.rng.integers(900, 7200))
            for _ in range(int(self.rng.integers(1, 5))):
                docs = self.rng.choice(self.inst.docs_of(self.user), int(self.rng.integers(0, 4)))
                t = self.usb_copy(batch, t, pc, list(dict.fromkeys(int(d) for d in docs)))
                t += int(self.rng.integers(300, 3600))


class Cert3Scenario(Scenario):
    """CERT 3: a sysadmin plants a keylogger on the supervisor's PC, then mails as them; leaves."""

    name = "cert-3"
    min_days = 14
    leaves = True

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return np.asarray(stayers(inst) & inst.is_admin() & (inst.supervisor >= 0))

    def plan(self) -> None:
        self.first = int(self.rng.integers(self.days // 2, self.days - 5))
        self.last = self.first + 1
        self.victim = int(self.inst.supervisor[self.user])
        self.hr.append(
            (
                self.user,
                "grievance",
                self.first - int(self.rng.integers(10, 40)),
                "dispute with supervisor",
            )
        )
        self.leave(self.last + 1, notice_before=1)
        self.hr[-2] = (self.user, "termination", self.last + 1, "left immediately after incident")

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        pc, victim_pc = int(self.inst.own_pc[self.user]), int(self.inst.own_pc[self.victim])
        if day == self.first:
            t, _ = self.when(plan, False)
            for domain in self.rng.choice(DOMAINS["hacking"], 3, replace=False).tolist():
                t += int(self.rng.integers(10, 120))
                self.web(batch, t, pc, domain)
            t += 60
            batch["http"].add(
                t,
                self.user,
                pc,
                self.number,
                activity="WWW Download",
                url="http://www.refog.com/download/keylogger.exe",
                content="4D-5A-90-00-03 keylogger setup",
            )
            tree = self.habits.device_tree[self.user]
            batch["device"].add(t + 60, self.user, pc, self.number, tree=tree, activity="Connect")
            batch["file"].add(
                t + 90,
                self.user,
                pc,
                self.number,
                filename="R:\\keylogger.exe",
                activity="File Write",
                to_removable="True",
                from_removable="False",
                content="4D-5A-90-00-03 keylogger",
            )
            batch["device"].add(t + 150, self.user, pc, self.number, tree="", activity="Disconnect")
            late = int(self.rng.uniform(19.5, 21.5) * HOUR)
            self.session(batch, late, victim_pc, late + 900)
            batch["device"].add(
                late + 120, self.user, victim_pc, self.number, tree=tree, activity="Connect"
            )
            batch["file"].add(
                late + 200,
                self.user,
                victim_pc,
                self.number,
                filename="R:\\keylogger.exe",
                activity="File Copy",
                to_removable="False",
                from_removable="True",
                content="4D-5A-90-00-03 keylogger",
            )
            batch["device"].add(
                late + 400, self.user, victim_pc, self.number, tree="", activity="Disconnect"
            )
        elif day == self.last:
            late = int(self.rng.uniform(19.0, 22.0) * HOUR)
            self.session(batch, late, victim_pc, late + 1200, user=self.victim)
            everyone = ";".join(
                self.inst.emails[k]
                for k in self.rng.choice(self.inst.size, 25, replace=False).tolist()
            )
            batch["email"].add(
                late + 300,
                self.victim,
                victim_pc,
                self.number,
                to=everyone,
                cc="",
                bcc="",
                sender=self.inst.emails[self.victim],
                activity="Send",
                size=int(self.rng.integers(20_000, 60_000)),
                attachments="",
                content="urgent layoffs announcement panic " + self.habits.contents[0],
            )


class Cert4Scenario(Scenario):
    """CERT 4: searches a colleague's machine and mails files home, more often over ~3 months."""

    name = "cert-4"
    min_days = 30

    def plan(self) -> None:
        self.last = self.days - int(self.rng.integers(2, 8))
        self.first = max(7, self.last - int(min(90, self.days * 0.6)))
        team = [
            k
            for k in range(self.inst.size)
            if k != self.user
            and self.inst.departments[k] == self.inst.departments[self.user]
            and self.inst.leave_day[k] > self.days
        ]
        self.victim = int(self.rng.choice(team)) if team else (self.user + 1) % self.inst.size

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return stayers(inst)

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        progress = (day - self.first) / max(1, self.last - self.first)
        if not self.first <= day <= self.last or self.rng.random() > 0.1 + 0.6 * progress:
            return
        if plan.window_of(self.user) is None and day != self.last:
            return
        t, own = self.when(plan, self.rng.random() < 0.2)
        victim_pc = int(self.inst.own_pc[self.victim])
        docs = [
            int(d)
            for d in self.rng.choice(self.inst.docs_of(self.victim), int(self.rng.integers(2, 8)))
        ]
        end = self.open_files(batch, t + 60, victim_pc, docs)
        self.mail(batch, end + 60, victim_pc, self.inst.personal_emails[self.user], docs[:2])
        self.session(batch, t, victim_pc, end + 300)


class Cert5Scenario(Scenario):
    """CERT 5: after layoffs in their group, uploads documents to Dropbox."""

    name = "cert-5"
    min_days = 21

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return stayers(inst)

    def plan(self) -> None:
        self.first = int(self.rng.integers(self.days // 2, self.days - 3))
        self.last = self.first + int(self.rng.integers(0, 3))
        group = [
            k
            for k in range(self.inst.size)
            if k != self.user
            and self.inst.leave_day[k] > self.days
            and self.inst.departments[k] == self.inst.departments[self.user]
        ]
        laid_off = self.rng.choice(
            group, min(len(group), int(self.rng.integers(3, 7))), replace=False
        )
        for k in laid_off.tolist():
            day = self.first - int(self.rng.integers(3, 20))
            self.hr.append((int(k), "termination", day, "layoff"))
            self.inst.leave_day[k] = day + 1
            self.inst.leave_kind[k] = "layoff"

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        if not self.first <= day <= self.last:
            return
        t, own = self.when(plan, False)
        pc = int(self.inst.own_pc[self.user])
        docs = [
            int(d)
            for d in self.rng.choice(self.inst.docs_of(self.user), int(self.rng.integers(3, 9)))
        ]
        for d in dict.fromkeys(docs):
            t += int(self.rng.integers(3, 40))
            self.web(batch, t, pc, "www.dropbox.com", "WWW Upload", d)
        if own:
            self.session(batch, t - 600, pc, t + 300)


class SlowLeakScenario(Scenario):
    """Low and slow: one or two documents at a time over months, below any daily threshold."""

    name = "slow-leak"
    min_days = 45

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return np.asarray(
            stayers(inst) & (inst.clearance >= 2) & np.array([len(p) > 0 for p in inst.projects])
        )

    def plan(self) -> None:
        self.first = int(self.rng.integers(self.days // 5, self.days // 3))
        self.last = self.days - int(self.rng.integers(2, 6))

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        if not self.first <= day <= self.last or plan.window_of(self.user) is None:
            return
        if day not in (self.first, self.last) and self.rng.random() > 0.15:
            return
        t, _ = self.when(plan, False)
        pc = int(self.inst.own_pc[self.user])
        docs = self.classified(True, int(self.rng.integers(1, 3)))
        channel = self.rng.random()
        if channel < 0.5:
            self.usb_copy(batch, t, pc, docs)
        elif channel < 0.8:
            self.mail(batch, t, pc, self.inst.personal_emails[self.user], docs[:1])
        else:
            self.web(batch, t, pc, "drive.google.com", "WWW Upload", docs[0])
        if self.print_rng.random() < 0.4:  # and a paper copy, now and then
            self.print_docs(batch, t + 900, pc, docs[:1], (4, 30))


class NeedToKnowScenario(Scenario):
    """Reads classified documents outside their compartments; copies almost nothing."""

    name = "need-to-know"
    min_days = 28

    @classmethod
    def eligible(cls, inst: Institute, habits: Habits) -> np.ndarray:
        return stayers(inst) & (inst.clearance >= 1)

    def day_events(self, day: int, plan: DayPlan, batch: dict[str, Rows]) -> None:
        if not self.first <= day <= self.last or plan.window_of(self.user) is None:
            return
        if day not in (self.first, self.last) and self.rng.random() > 0.4:
            return
        t, _ = self.when(plan, False)
        pc = int(self.inst.own_pc[self.user])
        docs = self.classified(False, int(self.rng.integers(2, 7)))
        end = self.open_files(batch, t, pc, docs)
        if self.print_rng.random() < 0.35:  # a few of them printed
            k = int(self.print_rng.integers(1, 4))
            self.print_docs(batch, end + 60, pc, docs[:k], (2, 25))
        if day == self.last:
            self.usb_copy(
                batch, end + 120, pc, self.classified(False, int(self.rng.integers(1, 3)))
            )


scenarios: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (
        DepartingClassifiedTheftScenario,
        Cert1Scenario,
        Cert2Scenario,
        Cert3Scenario,
        Cert4Scenario,
        Cert5Scenario,
        SlowLeakScenario,
        NeedToKnowScenario,
    )
}
SCENARIOS: tuple[str, ...] = tuple(scenarios)
