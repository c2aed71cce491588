"""The finding taxonomy: categories per domain, read from YAML files (format: docs/taxonomy.md).

:func:`load_taxonomy` reads the packaged files (``fieldkit/data/taxonomy``), then each office
directory or file in order. A later layer's category (or domain) with the same id replaces the
earlier one; inside one layer an id may appear once. Every problem names the file, the category
and the field: :func:`check_taxonomy` returns them, :func:`load_taxonomy` raises a ConfigError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, InputError, NotFoundError
from ..store.models import LAYER_KINDS

SEVERITIES = ("low", "medium", "high", "critical")
URGENCIES = ("normal", "urgent")
#: Layer kinds a finding can sit on (a boundary layer only locates, it carries no findings).
FINDING_LAYER_KINDS = tuple(kind for kind in LAYER_KINDS if kind != "boundary")
FORMAT_VERSION = 1
SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Folded YAML (">-") joins wrapped lines with a space; between Chinese characters or full-width
# punctuation that space is an artefact and is removed.
_WIDE = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef\u201c\u201d"
FOLD_SPACE = re.compile(rf"(?<=[{_WIDE}])\s+(?=[{_WIDE}])")
_NUM = "零〇一二三四五六七八九十百千"
#: 第十八条, 第八十三条第一款第（一）项, or a standard's clause: 第5章, 第7.1条.
ARTICLE = re.compile(
    rf"^第(?:[{_NUM}]+条(?:第[{_NUM}]+款)?(?:第[（(][{_NUM}]+[）)]项)?|\d+(?:\.\d+)*[章条])$"
)
TOP_KEYS = {"format", "domain", "categories"}
DOMAIN_KEYS = {"id", "name_zh", "name_en", "layer_kinds", "notes"}
CATEGORY_REQUIRED = {"id", "name_zh", "name_en", "severity", "urgency", "responsible_body",
                     "legal_basis", "recommendation_zh"}
CATEGORY_OPTIONAL = {"group_zh", "group_en", "responsible_party", "verified", "retired", "notes",
                     "sources"}
BASIS_KEYS = {"law", "articles", "note", "verified", "effective_from", "effective_until"}


@dataclasses.dataclass(frozen=True, slots=True)
class LegalBasis:
    """One cited instrument: a law, regulation or standard and the articles relied on.

    ``verified`` is False when the citation is not confirmed by the domain brief and must be
    checked by the office before it goes into a document.
    """

    law: str
    articles: tuple[str, ...]
    note: str | None = None
    verified: bool = True
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None

    def applies_on(self, day: dt.date) -> bool:
        """Whether this instrument is in force on ``day`` (by its effective dates)."""
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_until and day > self.effective_until)

    def citation(self) -> str:
        """Text for a document, e.g. ``《长城保护条例》第十八条、第二十八条``."""
        if self.law.startswith("GB"):  # a standard: "GB 19272-2011 第5章、第7.1条"
            return " ".join([self.law, "、".join(self.articles)]).strip()
        return f"《{self.law}》" + "、".join(self.articles)


@dataclasses.dataclass(frozen=True, slots=True)
class Category:
    """One finding category with its defaults (severity, urgency, body, basis, wording)."""

    id: str
    domain: str
    name_zh: str
    name_en: str
    severity: str
    urgency: str
    responsible_body: str
    legal_basis: tuple[LegalBasis, ...]
    recommendation_zh: str
    layer_kinds: tuple[str, ...]
    source: Path
    group_zh: str | None = None
    group_en: str | None = None
    responsible_party: str | None = None
    verified: bool = True
    retired: bool = False
    notes: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def urgent(self) -> bool:
        """True when the 15-day written-reply rule applies by default (J21; G19)."""
        return self.urgency == "urgent"

    def basis_on(self, day: dt.date) -> tuple[LegalBasis, ...]:
        """The legal-basis entries in force on ``day``."""
        return tuple(b for b in self.legal_basis if b.applies_on(day))


@dataclasses.dataclass(frozen=True, slots=True)
class Domain:
    """A domain (one file's header): names and the layer kinds its categories apply to."""

    id: str
    name_zh: str
    name_en: str
    layer_kinds: tuple[str, ...]
    source: Path
    notes: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Taxonomy:
    """The merged, validated taxonomy. Retired categories still resolve through :meth:`get`."""

    domains: tuple[Domain, ...]
    all_categories: tuple[Category, ...]
    _index: dict[str, Category] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.id: c for c in self.all_categories})

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._index

    def categories(self, domain: str | None = None, *, include_retired: bool = False
                   ) -> tuple[Category, ...]:
        """Categories in file order, optionally of one domain; unknown domain → InputError."""
        if domain is not None and domain not in {d.id for d in self.domains}:
            known = ", ".join(d.id for d in self.domains)
            raise InputError(f"unknown taxonomy domain {domain!r} (known: {known})")
        return tuple(c for c in self.all_categories
                     if (domain is None or c.domain == domain) and (include_retired or not c.retired))

    def get(self, category_id: str) -> Category:
        """The category with this id (retired ones included); unknown id → NotFoundError."""
        try:
            return self._index[category_id]
        except KeyError:
            raise NotFoundError(f"unknown finding category {category_id!r}") from None

    def domain(self, domain_id: str) -> Domain:
        """The domain with this id; unknown id → NotFoundError."""
        for domain in self.domains:
            if domain.id == domain_id:
                return domain
        raise NotFoundError(f"unknown taxonomy domain {domain_id!r}")

    def for_layer_kind(self, kind: str) -> tuple[Category, ...]:
        """Active categories that apply to features of layer kind ``kind``."""
        if kind not in LAYER_KINDS:
            raise InputError(f"unknown layer kind {kind!r} (expected {', '.join(LAYER_KINDS)})")
        return tuple(c for c in self.all_categories if kind in c.layer_kinds and not c.retired)


def packaged_dir() -> Path:
    """The folder holding the taxonomy files shipped with FieldKit."""
    return Path(str(resources.files("fieldkit").joinpath("data", "taxonomy")))


def load_taxonomy(path_or_dir: str | Path | Sequence[str | Path] | None = None, *,
                  packaged: bool = True) -> Taxonomy:
    """Load the packaged taxonomy, then each office file or directory in ``path_or_dir``.

    Later layers override earlier ones by id. Raise :class:`ConfigError` listing every problem.
    """
    taxonomy, problems = _load(_layers(path_or_dir, packaged))
    if problems:
        raise ConfigError("invalid taxonomy:\n" + "\n".join(problems))
    return taxonomy


def check_taxonomy(path: str | Path | Sequence[str | Path] | None = None, *,
                   packaged: bool = True) -> list[str]:
    """Every problem in the taxonomy ``load_taxonomy(path)`` would load (empty when valid)."""
    return _load(_layers(path, packaged))[1]


def _layers(path_or_dir, packaged: bool) -> list[Path]:
    extra = [path_or_dir] if isinstance(path_or_dir, (str, Path)) else list(path_or_dir or [])
    return ([packaged_dir()] if packaged else []) + [Path(p) for p in extra]


def _layer_files(layer: Path, problems: list[str]) -> list[Path]:
    if layer.is_file():
        return [layer]
    if not layer.is_dir():
        problems.append(f"{layer}: no such taxonomy file or directory")
        return []
    files = sorted(p for p in layer.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        problems.append(f"{layer}: no *.yaml taxonomy files")
    return files


def _load(layers: Iterable[Path]) -> tuple[Taxonomy, list[str]]:
    domains: dict[str, Domain] = {}
    categories: dict[str, Category] = {}
    problems: list[str] = []
    for layer in layers:
        seen_domains: dict[str, Path] = {}
        seen_ids: dict[str, Path] = {}
        for path in _layer_files(layer, problems):
            domain, cats = _read_file(path, domains, problems)
            if domain is None:
                continue
            if domain.source == path:  # the file defines (not just extends) the domain
                if domain.id in seen_domains:
                    problems.append(f"{path}: domain: field 'id': domain {domain.id!r} is "
                                    f"already defined in {seen_domains[domain.id]}")
                seen_domains[domain.id] = path
                domains[domain.id] = domain
            for cat in cats:
                _merge_category(cat, categories, seen_ids, problems)
    kinds = {d.id: d.layer_kinds for d in domains.values()}
    merged = tuple(dataclasses.replace(c, layer_kinds=kinds[c.domain]) for c in categories.values())
    return Taxonomy(tuple(domains.values()), merged), problems


def _merge_category(cat: Category, categories: dict[str, Category], seen_ids: dict[str, Path],
                    problems: list[str]) -> None:
    where = f"{cat.source}: category {cat.id!r}: field 'id'"
    if cat.id in seen_ids:
        problems.append(f"{where}: duplicate id (also in {seen_ids[cat.id]})")
        return
    seen_ids[cat.id] = cat.source
    earlier = categories.get(cat.id)
    if earlier is not None and earlier.domain != cat.domain:
        problems.append(f"{where}: overrides a category of domain {earlier.domain!r} "
                        f"from a file of domain {cat.domain!r}")
        return
    categories[cat.id] = cat  # a later layer replaces an earlier one with the same id


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def _read_file(path: Path, domains: dict[str, Domain], problems: list[str]
               ) -> tuple[Domain | None, list[Category]]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: not valid UTF-8 YAML ({exc})".replace("\n", " "))
        return None, []
    if not isinstance(document, dict):
        problems.append(f"{path}: expected a mapping with 'domain' and 'categories'")
        return None, []
    problems.extend(f"{path}: unknown top-level key {k!r} (allowed: format, domain, categories)"
                    for k in document if k not in TOP_KEYS)
    if document.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(f"{path}: field 'format': unsupported format {document['format']!r} "
                        f"(this FieldKit reads {FORMAT_VERSION})")
    domain = _read_domain(path, document.get("domain"), domains, problems)
    raw = document.get("categories")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: field 'categories': must be a non-empty list")
        return domain, []
    if domain is None:
        return None, []
    cats = [_read_category(path, i, item, domain, problems) for i, item in enumerate(raw)]
    return domain, [c for c in cats if c is not None]


def _read_domain(path: Path, raw: Any, domains: dict[str, Domain], problems: list[str]
                 ) -> Domain | None:
    if isinstance(raw, str):  # extends a domain defined by an earlier layer
        if raw not in domains:
            problems.append(f"{path}: field 'domain': unknown domain {raw!r} (define it with "
                            f"id, name_zh, name_en and layer_kinds, or extend a packaged one)")
        return domains.get(raw)
    if not isinstance(raw, dict):
        problems.append(f"{path}: field 'domain': missing (a mapping, or the id of a known domain)")
        return None
    f = _Fields(raw, f"{path}: domain", problems)
    f.unknown(DOMAIN_KEYS)
    values = {"id": f.slug("id"), "name_zh": f.text("name_zh", cjk=True),
              "name_en": f.text("name_en"), "layer_kinds": f.layer_kinds("layer_kinds"),
              "notes": f.text("notes", required=False)}
    if not f.ok:
        return None
    return Domain(source=path, **values)


def _read_category(path: Path, index: int, raw: Any, domain: Domain, problems: list[str]
                   ) -> Category | None:
    if not isinstance(raw, dict):
        problems.append(f"{path}: categories[{index}]: expected a mapping")
        return None
    cid = raw.get("id")
    label = f"category {cid!r}" if isinstance(cid, str) and cid else f"categories[{index}]"
    f = _Fields(raw, f"{path}: {label}", problems)
    f.unknown(CATEGORY_REQUIRED | CATEGORY_OPTIONAL)
    values = {
        "id": f.slug("id"), "name_zh": f.text("name_zh", cjk=True), "name_en": f.text("name_en"),
        "severity": f.choice("severity", SEVERITIES), "urgency": f.choice("urgency", URGENCIES),
        "responsible_body": f.text("responsible_body", cjk=True),
        "legal_basis": _read_basis(f, raw.get("legal_basis")),
        "recommendation_zh": f.text("recommendation_zh", cjk=True),
        "group_zh": f.text("group_zh", required=False, cjk=True),
        "group_en": f.text("group_en", required=False),
        "responsible_party": f.text("responsible_party", required=False),
        "verified": f.flag("verified", True), "retired": f.flag("retired", False),
        "notes": f.text("notes", required=False), "sources": f.texts("sources"),
    }
    if not f.ok:
        return None
    return Category(domain=domain.id, layer_kinds=domain.layer_kinds, source=path, **values)


def _read_basis(f: _Fields, raw: Any) -> tuple[LegalBasis, ...]:
    if raw is None:
        f.problem("legal_basis", "missing")
        return ()
    if not isinstance(raw, list) or not raw:
        f.problem("legal_basis", "must be a non-empty list of {law, articles, note} entries")
        return ()
    entries = []
    for i, item in enumerate(raw):
        name = f"legal_basis[{i}]"
        if not isinstance(item, dict):
            f.problem(name, "expected a mapping with law and articles")
            continue
        sub = f.nested(item, name)
        sub.unknown(BASIS_KEYS)
        law, note = sub.text("law"), sub.text("note", required=False)
        articles = sub.articles("articles", note)
        values = {"verified": sub.flag("verified", True),
                  "effective_from": sub.date("effective_from"),
                  "effective_until": sub.date("effective_until")}
        if values["effective_from"] and values["effective_until"] and \
                values["effective_from"] > values["effective_until"]:
            sub.problem("effective_until", "is before effective_from")
        if sub.ok:
            entries.append(LegalBasis(law=law, articles=articles, note=note, **values))
    if entries and len(entries) == len(raw) and not any(e.articles for e in entries):
        f.problem("legal_basis", "no entry cites an article (at least one must)")
    return tuple(entries)


class _Fields:
    """Typed access to one mapping; each problem names the place and the field."""

    def __init__(self, data: dict, where: str, problems: list[str], prefix: str = "") -> None:
        self.data, self.where, self.problems, self.prefix = data, where, problems, prefix
        self._start = len(problems)

    @property
    def ok(self) -> bool:
        """No problem was added since this reader (or a nested one) was created."""
        return len(self.problems) == self._start

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(f"{self.where}: field {self.prefix + key!r}: {reason}")

    def nested(self, data: dict, name: str) -> _Fields:
        return _Fields(data, self.where, self.problems, prefix=f"{self.prefix}{name}.")

    def unknown(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.problem(str(key), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, key: str, *, required: bool = True, cjk: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(key, f"must be non-empty text, got {value!r}")
            return None
        if cjk and not CJK.search(value):
            self.problem(key, f"must be Chinese text, got {value!r}")
        return FOLD_SPACE.sub("", value.strip())

    def slug(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and (not SLUG.match(value) or len(value) > 64):
            self.problem(key, f"{value!r} is not a stable slug (lower-case a-z, 0-9, - or _)")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(key)
        if value is not None and value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, got {value!r}")
            return default
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(key, "must be a list of non-empty texts")
            return ()
        return tuple(v.strip() for v in value)

    def layer_kinds(self, key: str) -> tuple[str, ...]:
        kinds = self.texts(key) if key in self.data else ()
        if not kinds:
            self.problem(key, f"must list at least one of {', '.join(FINDING_LAYER_KINDS)}")
        for kind in kinds:
            if kind not in FINDING_LAYER_KINDS:
                self.problem(key, f"unknown layer kind {kind!r} "
                                  f"(expected {', '.join(FINDING_LAYER_KINDS)})")
        return kinds

    def articles(self, key: str, note: str | None) -> tuple[str, ...]:
        if key not in self.data:
            self.problem(key, "missing (a list such as [第十八条]; [] only with a note saying why)")
            return ()
        articles = self.texts(key)
        if self.data[key] == [] and not note:
            self.problem(key, "empty: cite at least one article, or give a note saying why not")
        for article in articles:
            if not ARTICLE.match(article):
                self.problem(key, f"{article!r} is not an article like 第十八条, "
                                  f"第八十三条第一款第（一）项 or 第7.1条")
        return articles

    def date(self, key: str) -> dt.date | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.problem(key, f"{value!r} is not a date (YYYY-MM-DD)")
            return None
