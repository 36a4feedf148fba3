"""Acceptance: over a generated corpus, search returns exactly the documents that contain the query.

The corpus lives in a real git repository and a real index of each backend (Whoosh: several
segments, and some documents changed after the rebuild, so deleted entries exist too;
PostgreSQL: its tables, when the test database is PostgreSQL). The expected set of each
query is computed here by scanning the documents' text, independently of the search package:
Markdown markers are stripped by hand and text is folded with NFKC + lower-casing.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.search_backends import BACKENDS, open_backend
from zhengai_docs.catalogue.codes import DocType, DocumentCode
from zhengai_docs.catalogue.document import DocumentMeta, Status, new_document
from zhengai_docs.search.backend import SearchBackend, SearchFilters, SearchHit, SearchRequest, SearchResults, Sort
from zhengai_docs.search.indexer import rebuild_index, sync_index
from zhengai_docs.storage.repository import Author, ContentRepository

AUTHOR = Author(name="测试", email="test@example.edu.cn")
DEPARTMENTS = ("教务处", "组织人事处", "质量管理办公室", "学生工作处", "科研处")
TOPICS = ("双师型教师认定", "专业带头人遴选", "实习实训基地建设", "质量年度报告编制", "人才培养方案制订", "诊断与改进", "网络安全")
TOPICS += ("课程标准",)
PHRASES = (
    "学院建立内部质量保证体系，按诊断点开展诊改。",
    "双师型教师比例不低于60%，专业带头人每专业不少于2名。",
    "实习实训条件依据GB/T 22239-2019《信息安全技术 网络安全等级保护基本要求》建设。",
    "质量管理参照ISO 9001:2015，按PDCA循环持续改进。",
    "依据包职院发〔2019〕12号文件，教务处负责组织实施。",
    "试点1+X证书制度，各部门KPI纳入年度考核。",
    "人才培养方案每年修订一次，报院长办公会审议。",
    "质量年度报告于每年12月前发布。",
    "依据ＧＢ／Ｔ 2887执行机房建设，数据平台V2.0上报。",
    "诊断要素包括目标、标准、制度和运行。",
    "兼职教师须具备双师素质。",
    "教学工作委员会负责课程思政建设。",
    "保证诊断结果真实，专业带头。",  # its pairs meet others' (质量保证…, 专业带头人) without their text
)
QUERIES = (
    "质", "诊", "师", "号", "〔", "x", "%",
    "双师", "诊改", "实训", "学院", "年度", "gb", "12",
    "诊断点", "双师型", "教务处", "1+x", "kpi",
    "实习实训", "专业带头", "人才培养", "质量保证",
    "专业带头人", "质量年度报",
    "质量年度报告", "人才培养方案", "内部质量保证",
    "GB/T 22239-2019", '"GB/T 22239-2019"', "包职院发〔2019〕12号", "ISO 9001", "ＧＢ／Ｔ", "22239", "9001:2015",
    "2019〕1", "v2.0", "训基", "点开", "诊改 双师", "年度 kpi 考核", "不存在的内容",
    "质量保证诊", "保证诊断", "带头。", "专业带头人每",
    "另有重点任务", "有重点", "*重点*", "《实施细则》与代码k9", "注释^1说明", "隐藏脚注甲乙", "a&b", "<标签>", "及中文", "*星号*",
)  # fmt: skip
# Markup the reader does not see (issue 16): (body, the text the page shows, written out by hand)
MARKUP = (
    ("本条另有*重点*任务清单。", "本条另有重点任务清单。"),
    ('详见[《实施细则》](http://x.cn/a_(1) "标题")与`代码K9`。', "详见《实施细则》与代码K9。"),
    ("注释[^1]说明。\n\n[^1]: 隐藏脚注甲乙", "注释^1说明。"),
    ("A&amp;B 与 &lt;标签&gt; 及&#20013;文", "A&B 与 <标签> 及中文"),
    ("转义\\*星号\\*保留，**粗体*斜体*混排**。", "转义*星号*保留，粗体斜体混排。"),
)


@dataclass(frozen=True)
class Doc:
    code: str
    title: str
    status: str
    departments: tuple[str, ...]
    points: tuple[str, ...]
    issued: dt.date
    doc_type: str
    text: str  # the file
    visible: str  # folded display text, computed independently


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _visible(title: str, doc_number: str, body: str) -> str:
    lines = [re.sub(r"^#+\s*", "", line).replace("**", "") for line in body.splitlines()]
    return _fold("\n".join([title, doc_number, *lines]))


def _corpus(count: int, seed: int) -> list[Doc]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not secrets
    docs = []
    for index in range(count):
        doc_type = "ZLB"[index % 3]
        item = f"{'ABCDEF'[index // 60 % 6]}{index // 20 % 3 + 1}{index % 20 + 1:02d}"
        code = DocumentCode(item=item, doc_type=DocType(doc_type))
        title = f"包头职业技术学院{rng.choice(TOPICS)}{'管理办法' if doc_type == 'Z' else '工作流程' if doc_type == 'L' else '质量标准'}"
        issued = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3650))
        doc_number = f"包职院发〔{issued.year}〕{rng.randint(1, 30)}号"
        lines = [f"# {title}", "", "## 第一章 总则", ""]
        lines += [f"**第{n}条** " + "".join(rng.sample(PHRASES, rng.randint(1, 3))) for n in range(1, rng.randint(3, 7))]
        body = "\n\n".join(lines) + "\n"
        meta = DocumentMeta(
            code=code,
            title=title,
            departments=tuple(rng.sample(DEPARTMENTS, rng.randint(1, 2))),
            status=rng.choices([Status.IN_FORCE, Status.DRAFT, Status.REPEALED], weights=[7, 2, 1])[0],
            issued=issued,
            doc_number=doc_number,
            points=(f"{rng.randint(1, 3)}.{rng.randint(1, 3)}.{rng.randint(1, 3)}",),
        )
        docs.append(
            Doc(
                code=str(code),
                title=title,
                status=meta.status.value,
                departments=meta.departments,
                points=meta.points,
                issued=issued,
                doc_type=doc_type,
                text=new_document(meta, body).dump(),
                visible=_visible(title, doc_number, body),
            )
        )
    return docs


def _markup_documents() -> list[Doc]:
    docs = []
    for n, (body, shown) in enumerate(MARKUP):
        code = DocumentCode(item=f"F3{n + 91}", doc_type=DocType.Z)
        title = f"标记测试{n}"
        meta = DocumentMeta(code=code, title=title, departments=("教务处",), status=Status.IN_FORCE, issued=dt.date(2020, 1, 1))
        docs.append(
            Doc(
                code=str(code),
                title=title,
                status=meta.status.value,
                departments=meta.departments,
                points=(),
                issued=dt.date(2020, 1, 1),
                doc_type="Z",
                text=new_document(meta, body + "\n").dump(),
                visible=_fold(f"{title}\n{shown}"),
            )
        )
    return docs


@dataclass
class Indexed:
    backend: SearchBackend
    docs: dict[str, Doc]


@pytest.fixture(scope="module", params=BACKENDS)
def indexed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    root = tmp_path_factory.mktemp("ground-truth")
    repo = ContentRepository.create(root / "content.git")
    docs = {d.code: d for d in [*_corpus(240, seed=11), *_markup_documents()]}
    files = {DocumentCode(item=c[:4], doc_type=DocType(c[4])).path: d.text for c, d in docs.items()}
    repo.commit(files, author=AUTHOR, message="语料", base=None)
    with open_backend(request.param, root, chunk_size=80) as backend:  # Whoosh: several segments
        yield from _indexed(backend, repo, docs)


def _indexed(backend: SearchBackend, repo: ContentRepository, docs: dict[str, Doc]) -> Iterator[Indexed]:
    rebuild_index(backend, repo)
    changed = {d.code: d for d in _corpus(240, seed=12)[:30]}  # then 30 documents change: deleted entries
    repo.commit(
        {DocumentCode(item=c[:4], doc_type=DocType(c[4])).path: d.text for c, d in changed.items()},
        author=AUTHOR,
        message="修订",
        base=repo.head(),
    )
    assert sync_index(backend, repo, timeout=10).mode == "incremental"
    docs.update(changed)
    yield Indexed(backend=backend, docs=docs)


def _terms(query: str) -> list[str]:
    quoted = re.fullmatch(r'"(.*)"', query)
    return [_fold(quoted.group(1))] if quoted else [_fold(t) for t in query.split()]


def _expected(indexed: Indexed, query: str, *, repealed: bool = False) -> set[str]:
    terms = _terms(query)
    return {c for c, d in indexed.docs.items() if all(t in d.visible for t in terms) and (repealed or d.status != "废止")}


def _all_pages(indexed: Indexed, query: str, **options: object) -> tuple[list[str], SearchResults]:
    codes: list[str] = []
    page = 1
    while True:
        results = indexed.backend.search(SearchRequest(text=query, page=page, per_page=20, **options))  # type: ignore[arg-type]
        codes += [h.code for h in results.hits]
        if page >= results.pages:
            return codes, results
        page += 1


def test_the_query_list_is_broad_enough(indexed: Indexed) -> None:
    lengths = {len(_terms(q)[0]) for q in QUERIES if len(_terms(q)) == 1}
    assert len(QUERIES) >= 30 and {1, 2, 3, 4, 5, 6} <= lengths
    assert sum(1 for q in QUERIES if re.search(r"[A-Za-z0-9Ａ-Ｚ]", q)) >= 10
    assert sum(1 for q in QUERIES if _expected(indexed, q)) >= 35  # almost all find something


@pytest.mark.parametrize("query", QUERIES)
def test_recall_and_precision_are_exact_and_titles_come_first(indexed: Indexed, query: str) -> None:
    codes, results = _all_pages(indexed, query)
    expected = _expected(indexed, query)
    assert len(codes) == len(set(codes)) == results.total
    assert set(codes) == expected  # recall 1.0 and precision 1.0
    in_title = [all(t in _fold(indexed.docs[c].title) for t in _terms(query)) for c in codes]
    assert in_title == sorted(in_title, reverse=True), "a title match ranked below a body-only match"


@pytest.mark.parametrize("query", ["双师", "诊改", "GB/T", "12"])
def test_repealed_documents_only_when_asked_for(indexed: Indexed, query: str) -> None:
    everything = SearchFilters(statuses=("现行", "草稿", "废止"))
    codes, _ = _all_pages(indexed, query, filters=everything)
    assert set(codes) == _expected(indexed, query, repealed=True)
    repealed, _ = _all_pages(indexed, query, filters=SearchFilters(statuses=("废止",)))
    assert set(repealed) == {c for c in _expected(indexed, query, repealed=True) if indexed.docs[c].status == "废止"}
    assert repealed, "the corpus should have repealed documents for this query"


def test_every_filter_matches_its_definition(indexed: Indexed) -> None:
    docs = indexed.docs
    live = {c for c, d in docs.items() if d.status != "废止"}
    item = sorted(live)[len(live) // 2][:4]
    cases = [
        (SearchFilters(doc_types=("L",)), {c for c in live if docs[c].doc_type == "L"}),
        (SearchFilters(doc_types=("Z", "B")), {c for c in live if docs[c].doc_type in "ZB"}),
        (SearchFilters(level1="B"), {c for c in live if c[0] == "B"}),
        (SearchFilters(level2="C2"), {c for c in live if c[:2] == "C2"}),
        (SearchFilters(item=item), {c for c in live if c[:4] == item}),
        (SearchFilters(departments=("教务处",)), {c for c in live if "教务处" in docs[c].departments}),
        (SearchFilters(departments=("科研处", "学生工作处")), {c for c in live if {"科研处", "学生工作处"} & set(docs[c].departments)}),
        (SearchFilters(statuses=("草稿",)), {c for c, d in docs.items() if d.status == "草稿"}),
        (SearchFilters(points=("2.1",)), {c for c in live if any(p.startswith("2.1.") for p in docs[c].points)}),
        (SearchFilters(points=("3.3.3",)), {c for c in live if "3.3.3" in docs[c].points}),
        (
            SearchFilters(issued_from=dt.date(2018, 1, 1), issued_to=dt.date(2019, 12, 31)),
            {c for c in live if dt.date(2018, 1, 1) <= docs[c].issued <= dt.date(2019, 12, 31)},
        ),
    ]
    for filters, expected in cases:
        assert expected, f"the corpus has nothing for {filters}"
        codes, _ = _all_pages(indexed, "", filters=filters)
        assert set(codes) == expected, filters
        with_text, _ = _all_pages(indexed, "双师", filters=filters)
        assert set(with_text) == expected & _expected(indexed, "双师"), filters


def test_sort_by_date_is_newest_first(indexed: Indexed) -> None:
    codes, _ = _all_pages(indexed, "诊改", sort=Sort.DATE)
    dates = [indexed.docs[c].issued for c in codes]
    assert dates == sorted(dates, reverse=True)
    assert set(codes) == _expected(indexed, "诊改")


def test_whole_words_rank_above_pieces_of_words(indexed: Indexed) -> None:
    results = indexed.backend.search(SearchRequest(text="双师", per_page=100))
    body_hits = [h for h in results.hits if not h.title_match]
    whole = [h.score >= 100 for h in body_hits]  # 双师 as a word (also inside 双师型) counts 100
    assert whole == sorted(whole, reverse=True)


def test_snippets_and_titles_are_highlighted(indexed: Indexed) -> None:
    results = indexed.backend.search(SearchRequest(text="专业带头人"))
    assert results.hits
    for hit in results.hits:
        assert ("<mark" in hit.title_html) == hit.title_match
        if not hit.title_match:  # found in the body: the snippet shows where
            assert "<mark" in hit.snippet_html


def test_empty_results_suggest_near_terms(indexed: Indexed) -> None:
    results = indexed.backend.search(SearchRequest(text="双师形教师"))
    assert results.total == 0
    assert results.suggestions, "no suggestion for a typo"
    for suggestion in results.suggestions:
        codes, _ = _all_pages(indexed, suggestion.text)
        assert suggestion.hits == len(codes) > 0
    assert indexed.backend.search(SearchRequest(text="诊改 双师", suggest=False)).suggestions == ()


@pytest.mark.parametrize("sort", [Sort.RELEVANCE, Sort.DATE])
@pytest.mark.parametrize("query", ["质", "双师", "诊改 双师", "学院", "12"])
def test_pages_follow_the_order_of_ranking_everything(indexed: Indexed, query: str, sort: Sort) -> None:
    """Occurrences are counted only where they decide a page's order (matching.page): small pages
    put together must give the order, and the scores, of one page holding every match."""
    everything = indexed.backend.search(SearchRequest(text=query, sort=sort, per_page=10_000))
    assert everything.total > 20
    paged, results = _all_pages_of(indexed, query, sort=sort, per_page=7)
    assert [(h.code, h.score) for h in paged] == [(h.code, h.score) for h in everything.hits]
    assert results.total == everything.total


def _all_pages_of(indexed: Indexed, query: str, *, sort: Sort, per_page: int) -> tuple[list[SearchHit], SearchResults]:
    hits: list[SearchHit] = []
    page = 1
    while True:
        results = indexed.backend.search(SearchRequest(text=query, sort=sort, page=page, per_page=per_page))
        hits += results.hits
        if page >= results.pages:
            return hits, results
        page += 1
