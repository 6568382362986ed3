"""Generate a demo district: institutions, practitioners, teams, households, residents.

`generate("panyu")` is deterministic: the same key, seed and scale always give the same
records. Institutions and teams are structure and do not scale; `scale` only changes
how many residents are generated.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from hub.demo import districts, names
from hub.demo.districts import DistrictSpec, Street
from hub.demo.households import GridCell, generate_households
from hub.demo.model import (
    District,
    GridArea,
    Organization,
    Practitioner,
    Team,
    TeamMember,
)
from hub.demo.people import REFERENCE_DATE, PersonFactory

# Hospital staff per hospital: specialists join teams through multi-site practice [JL].
SPECIALISTS_PER_HOSPITAL = 4
SPECIALIST_SHARE = 0.4  # teams with a hospital specialist
HEALTH_MANAGER_SHARE = 0.3
TCM_LEADER_SHARE = 0.1
ASSISTANT_LEADER_SHARE = {False: 0.05, True: 0.2}  # by is_town: fewer full GPs in towns
VILLAGE_DOCTOR_LEADS = 0.5  # teams covering a village clinic led by its village doctor


def generate(region_key: str, *, seed: int = 0, scale: float = 1.0) -> District:
    """The demo district `region_key` (panyu, wenzhou, jilin, yongkang, erqi)."""
    spec = districts.get(region_key)
    # A district-specific stream, so adding a district never changes another one.
    rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.key.encode()))
    factory = PersonFactory(
        rng.randrange(2**32),
        spec.region_code,
        [s.name for s in spec.streets],
        district_name=spec.name,
        insurance_mix=spec.insurance_mix,
        # Districts share migrants' home counties; separate lanes keep ID numbers unique
        # across all demo districts, not just within one.
        lane=(list(districts.DISTRICTS).index(spec.key), len(districts.DISTRICTS)),
    )
    builder = _Builder(spec, rng, factory)
    for street in spec.streets:
        builder.primary_care(street)
    for hospital in spec.hospitals:
        builder.organization(hospital.name, hospital.kind, hospital.street, None)
    builder.hospital_staff()
    for street in spec.streets:
        builder.teams_of(street)
    households, residents = generate_households(
        spec, factory, rng, builder.grid, max(1, round(spec.residents * scale)), REFERENCE_DATE
    )
    return District(
        key=spec.key,
        name=spec.name,
        region_code=spec.region_code,
        spec=spec,
        organizations=tuple(builder.organizations),
        practitioners=tuple(builder.practitioners),
        teams=tuple(builder.teams),
        households=tuple(households),
        residents=tuple(residents),
    )


def generate_all(*, seed: int = 0, scale: float = 1.0) -> dict[str, District]:
    return {key: generate(key, seed=seed, scale=scale) for key in districts.DISTRICTS}


@dataclass(slots=True)
class _Site:
    """A primary-care institution of a street and the communities it serves directly."""

    organization: Organization
    communities: tuple[str, ...] = ()
    staff: dict[str, list[str]] = field(default_factory=dict)  # role → practitioner ids


@dataclass(slots=True)
class _Builder:
    spec: DistrictSpec
    rng: random.Random
    factory: PersonFactory
    organizations: list[Organization] = field(default_factory=list)
    practitioners: list[Practitioner] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    grid: list[GridCell] = field(default_factory=list)
    centres: dict[str, _Site] = field(default_factory=dict)  # street → centre
    outposts: dict[str, list[_Site]] = field(default_factory=dict)  # stations, clinics
    communities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    specialists: list[str] = field(default_factory=list)

    # -- institutions ------------------------------------------------------------------

    def organization(
        self, name: str, kind: str, street: str, parent: str | None, *, primary: bool = False
    ) -> Organization:
        rng = self.rng
        road = rng.choice(names.ROAD_STEMS) + rng.choice(names.ROAD_SUFFIXES)
        org = Organization(
            id=f"{self.spec.key}-org-{len(self.organizations) + 1:03d}",
            name=name,
            kind=kind,
            region_code=self.spec.region_code,
            parent_id=parent,
            primary_care=primary,
            address=f"{self.spec.name}{street}{road}{rng.randint(1, 300)}号",
            phone=self.factory.landline(),
            street=street,
        )
        self.organizations.append(org)
        return org

    def primary_care(self, street: Street) -> None:
        """The street's centre (社区卫生服务中心 / 乡镇卫生院) with its stations and clinics;
        each station or clinic serves one of the street's communities."""
        prefix = f"{self.spec.city}{self.spec.name}{street.name}"
        kind = "TOWNSHIP_HEALTH_CENTER" if street.is_town else "COMMUNITY_HEALTH_CENTER"
        default = prefix + ("卫生院" if street.is_town else "社区卫生服务中心")
        centre = self.organization(street.centre or default, kind, street.name, None, primary=True)
        self.centres[street.name] = _Site(centre)
        communities = self._communities(street)
        self.communities[street.name] = communities
        outposts = []
        for i in range(street.stations):
            name = f"{prefix}{communities[i]}社区卫生服务站".replace("社区社区", "社区")
            station = self.organization(
                name, "COMMUNITY_HEALTH_STATION", street.name, centre.id, primary=True
            )
            outposts.append(_Site(station, (communities[i],)))
        villages = [c for c in communities if c.endswith("村")]
        for village in villages[: street.village_clinics]:
            clinic = self.organization(
                f"{prefix}{village}卫生室", "VILLAGE_CLINIC", street.name, centre.id, primary=True
            )
            outposts.append(_Site(clinic, (village,)))
        self.outposts[street.name] = outposts

    def _communities(self, street: Street) -> tuple[str, ...]:
        """Known names first, then made-up ones: 社区 for streets, mostly 村 for towns."""
        wanted = max(street.teams * 2, 3, street.stations + street.village_clinics)
        found = list(street.communities)
        stems = list(names.VILLAGE_STEMS if street.is_town else names.ROAD_STEMS)
        self.rng.shuffle(stems)
        for stem in stems:
            if len(found) >= wanted:
                break
            suffix = "村" if street.is_town and len(found) > 0 else "社区"
            if not any(f.startswith(stem) for f in found):
                found.append(stem + suffix)
        return tuple(found)

    # -- people ------------------------------------------------------------------------

    def practitioner(self, role: str, org: Organization) -> str:
        person = self.factory.person(age_range=(26, 60), street=org.street)
        p = Practitioner(
            id=f"{self.spec.key}-prac-{len(self.practitioners) + 1:04d}",
            name=person.name,
            sex=person.sex,
            birth_date=person.birth_date,
            id_number=person.id_number,
            phone=self.factory.mobile(),
            role=role,
            organization_id=org.id,
        )
        self.practitioners.append(p)
        return p.id

    def hospital_staff(self) -> None:
        for org in self.organizations:
            if org.kind.endswith("HOSPITAL"):
                for _ in range(SPECIALISTS_PER_HOSPITAL):
                    self.specialists.append(self.practitioner("SPECIALIST", org))

    def _shared(self, site: _Site, role: str, per: int) -> str:
        """Staff the centre shares between teams: a new one every `per` teams."""
        staff = site.staff.setdefault(role, [])
        uses = site.staff.setdefault(role + ":uses", [])
        if not staff or len(uses) % per == 0:
            staff.append(self.practitioner(role, site.organization))
        uses.append(staff[-1])
        return staff[-1]

    # -- teams -------------------------------------------------------------------------

    def teams_of(self, street: Street) -> None:
        """Split the street's communities between its teams (round robin) and staff them."""
        rng = self.rng
        centre = self.centres[street.name]
        communities = self.communities[street.name]
        grids = [communities[i :: street.teams] for i in range(street.teams)]
        for number, grid in enumerate(grids, start=1):
            outpost = next(
                (o for o in self.outposts[street.name] if set(o.communities) & set(grid)), None
            )
            org = centre.organization
            leader_org, leader_role = org, self._leader_role(street)
            if outpost and outpost.organization.kind == "COMMUNITY_HEALTH_STATION":
                org = leader_org = outpost.organization  # the station's GP runs the team
            elif outpost and rng.random() < VILLAGE_DOCTOR_LEADS:
                # In villages the village doctor leads, with the township centre's staff [JL].
                leader_org, leader_role = outpost.organization, "VILLAGE_DOCTOR"
            leader = self.practitioner(leader_role, leader_org)
            members = [TeamMember(leader, leader_role)]
            for _ in range(1 + (rng.random() < 0.4)):
                members.append(TeamMember(self.practitioner("NURSE", org), "NURSE"))
            physician = self._shared(centre, "PUBLIC_HEALTH_PHYSICIAN", 2)
            members.append(TeamMember(physician, "PUBLIC_HEALTH_PHYSICIAN"))
            if rng.random() < 0.5:
                members.append(TeamMember(self._shared(centre, "PHARMACIST", 4), "PHARMACIST"))
            if rng.random() < HEALTH_MANAGER_SHARE:
                manager = self.practitioner("HEALTH_MANAGER", centre.organization)
                members.append(TeamMember(manager, "HEALTH_MANAGER"))
            if self.specialists and rng.random() < SPECIALIST_SHARE:
                members.append(TeamMember(rng.choice(self.specialists), "SPECIALIST"))
            team_id = f"{self.spec.key}-team-{len(self.teams) + 1:03d}"
            self.teams.append(
                Team(
                    id=team_id,
                    name=self._team_name(street, number, org, leader),
                    organization_id=org.id,
                    leader_id=leader,
                    members=tuple(members),
                    grid=GridArea(street.name, grid),
                    capacity_households=self.spec.capacity_households,
                )
            )
            for community in grid:
                no = communities.index(community) + 1
                self.grid.append(GridCell(street.name, community, no, team_id))

    def _leader_role(self, street: Street) -> str:
        x = self.rng.random()
        if x < TCM_LEADER_SHARE:
            return "TCM_GP"
        if x < TCM_LEADER_SHARE + ASSISTANT_LEADER_SHARE[street.is_town]:
            return "ASSISTANT_GP"
        return "GP"

    def _team_name(self, street: Street, number: int, org: Organization, leader: str) -> str:
        if self.spec.team_naming == "leader":
            short = org.name.removeprefix(self.spec.city).removeprefix(self.spec.name)
            name = next(p.name for p in self.practitioners if p.id == leader)
            return f"{short}{name}签约团队"
        return f"{street.name}第{number}家庭医生团队"
