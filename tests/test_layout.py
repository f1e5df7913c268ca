"""The package's rooms and the one-way arrows between them (docs/design.md,
"Layout"): an import graph built from the source (imports inside functions
included) has no cycle, the search space and costs import nothing above them,
nothing imports the package root to register modules, and no file outgrows a
reader."""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'attnas_mmseg'
ROOT = 'attnas_mmseg'
MAX_LINES = 400
HOOK = PACKAGE / 'engine' / 'hooks' / 'arch_update_hook.py'
#: The rooms, lowest first: a module may import only rooms ranked below its
#: own (docs/design.md, "Layout").
ROOMS = ('utils', 'ops', 'datasets', 'search.space', 'search.cost', 'search',
         'models', 'engine', 'export', 'evaluation', 'deploy', 'visualization',
         '')
#: Rooms the search space and its costs must never import.
ABOVE_SEARCH = ('engine', 'deploy', 'visualization', 'export', 'models',
                'datasets', 'apis')


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _imports(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """Every attnas_mmseg module ``name`` imports, at any nesting level."""
    package = name if path.name == '__init__.py' else name.rsplit('.', 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            # `from pkg import submodule` imports the submodule
            targets = [f'{mod}.{a.name}' if f'{mod}.{a.name}' in modules
                       else mod for a in node.names]
        else:
            continue
        found.update(t for t in targets
                     if t == ROOT or t.startswith(ROOT + '.'))
    return found


def import_graph() -> Dict[str, Set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules)
            for name, path in modules.items()}


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle per strongly connected component of more than one module
    (Tarjan), or a module importing itself."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def room(module: str) -> str:
    """The room of a module: the longest entry of ROOMS it lives in."""
    rest = module[len(ROOT) + 1:]
    return max((r for r in ROOMS if rest == r or rest.startswith(r + '.')
                or r == ''), key=len)


def test_arrows_point_down():
    rank = {r: i for i, r in enumerate(ROOMS)}
    up = sorted({(m, t) for m, targets in import_graph().items()
                 for t in targets if rank[room(t)] > rank[room(m)]})
    assert up == []


def test_import_graph_has_no_cycle():
    assert _cycles(import_graph()) == []


def test_cycle_finder_finds_a_planted_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert _cycles(graph) == [['a', 'b', 'c']]


@pytest.mark.parametrize('room', ABOVE_SEARCH)
def test_search_imports_nothing_above_it(room):
    graph = import_graph()
    bad = {m: sorted(t for t in targets
                     if t == ROOT or t.startswith(f'{ROOT}.{room}'))
           for m, targets in graph.items()
           if m.startswith(f'{ROOT}.search')}
    assert {m: t for m, t in bad.items() if t} == {}


def test_no_module_imports_the_package_root():
    graph = import_graph()
    assert sorted(m for m, targets in graph.items() if ROOT in targets) == []


def test_files_stay_readable():
    long = {str(p.relative_to(PACKAGE)): n
            for p in PACKAGE.rglob('*.py')
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
    assert len(HOOK.read_text().splitlines()) < 300


def test_one_segmentor_builder():
    """Only models/builder.py builds a model from a config (tools/
    reproduce_report.py builds MMSeg's auxiliary head alone, not a
    segmentor)."""
    repo = PACKAGE.parent
    callers = sorted(
        str(p.relative_to(repo))
        for folder in ('attnas_mmseg', 'tools', 'benchmarks')
        for p in (repo / folder).rglob('*.py')
        if 'MODELS.build(' in p.read_text())
    assert callers == ['attnas_mmseg/models/builder.py',
                       'tools/reproduce_report.py']
