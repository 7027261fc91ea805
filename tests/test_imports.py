"""The package's import graph: no module imports, directly or through others, a module
that imports it back (module-level imports and those inside functions alike)."""

import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "aae_tf")


def _module_name(path):
  relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-len(".py")]
  return relative.replace(os.sep, ".").removesuffix(".__init__")


def _is_main_block(node):
  """`if __name__ == "__main__":` — runs only when the module is the program."""
  test = getattr(node, "test", None)
  return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
          and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def _imports(tree):
  """Every aae_tf module `tree` imports (`from aae_tf import x` names module aae_tf.x)."""
  found = set()
  stack = [tree]
  while stack:
    node = stack.pop()
    if _is_main_block(node):
      continue  # `python -m aae_tf.train` hands over to the entry point: not a dependency
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aae_tf"):
      found.add(node.module)
      found.update(f"{node.module}.{alias.name}" for alias in node.names)
    elif isinstance(node, ast.Import):
      found.update(a.name for a in node.names if a.name.startswith("aae_tf"))
    stack.extend(ast.iter_child_nodes(node))
  return found


def import_graph():
  graph = {}
  for directory, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        module = _module_name(path)
        with open(path) as f:
          tree = ast.parse(f.read())
        graph[module] = _imports(tree)
  modules = set(graph)
  # Keep only edges to modules (not to names imported from them), and no self-edges.
  return {module: {m for m in deps if m in modules and m != module}
          for module, deps in graph.items()}


def _cycles(graph):
  cycles, done = [], set()

  def visit(module, path):
    for dependency in sorted(graph.get(module, ())):
      if dependency in path:
        cycles.append(path[path.index(dependency):] + [dependency])
      elif dependency not in done and dependency in graph:
        visit(dependency, path + [dependency])
    done.add(module)

  for module in sorted(graph):
    visit(module, [module])
  return cycles


def test_the_graph_is_read():
  graph = import_graph()
  assert "aae_tf.errors" in graph["aae_tf.distribute"]
  assert "aae_tf.trainer" in graph["aae_tf.train"]


def test_no_import_cycles():
  graph = import_graph()
  cycles = _cycles(graph)
  assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


# The package's floors, ground first. A module may import only from its own floor or
# below: the configuration stands on the ground, the library never reaches up to the
# training run, and only the entry point sees everything.
LAYERS = (
    # the ground: the configuration, its errors, and dependency-free helpers
    ("aae_tf", "aae_tf.errors", "aae_tf.config", "aae_tf.atomic", "aae_tf.rng",
     "aae_tf.startup", "aae_tf.choices"),
    # building blocks: data, networks, priors, losses, presets, checkpoint files
    ("aae_tf.precision", "aae_tf.distribute", "aae_tf.losses", "aae_tf.metrics",
     "aae_tf.optimizers", "aae_tf.conv", "aae_tf.variants", "aae_tf.priors",
     "aae_tf.input_pipeline", "aae_tf.figures", "aae_tf.report", "aae_tf.idx",
     "aae_tf.sources", "aae_tf.sources.common", "aae_tf.sources.folder",
     "aae_tf.sources.mnist", "aae_tf.sources.npz", "aae_tf.sources.tfds_source",
     "aae_tf.data", "aae_tf.models", "aae_tf.checkpoints", "aae_tf.configs",
     "aae_tf.configs.registry", "aae_tf.configs.presets"),
    # the pieces of a run, of an export and of an evaluation
    ("aae_tf.validate", "aae_tf.trainer", "aae_tf.workdir", "aae_tf.export",
     "aae_tf.exported", "aae_tf.training_figures", "aae_tf.digit_classifier",
     "aae_tf.selection", "aae_tf.evaluate", "aae_tf.controller", "aae_tf.projector"),
    # the explorer: the questions it asks of an export, and its page
    ("aae_tf.explorer", "aae_tf.explore"),
    # a training run, wired
    ("aae_tf.train",),
    # every command line
    ("aae_tf.main",),
    # their console entry points
    ("aae_tf.console",),
)


def test_every_module_has_a_floor():
  placed = [m for layer in LAYERS for m in layer]
  assert len(placed) == len(set(placed))
  assert sorted(placed) == sorted(import_graph())


def test_no_upward_imports():
  floor = {m: i for i, layer in enumerate(LAYERS) for m in layer}
  graph = import_graph()
  upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                  if floor[d] > floor[m])
  assert upward == [], upward


def test_the_configuration_imports_only_its_errors():
  assert import_graph()["aae_tf.config"] <= {"aae_tf", "aae_tf.errors"}


def test_library_modules_never_import_the_entry_point():
  graph = import_graph()
  importers = sorted(m for m, deps in graph.items() if "aae_tf.main" in deps)
  assert importers == ["aae_tf.console"], importers   # the console scripts only
