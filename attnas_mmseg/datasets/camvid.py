"""CamVid in the SegNet layout, the 11-class split the AttNAS paper reports (§4.1)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

# SegNet's label 11 marks unlabelled ("void") pixels.
CAMVID_VOID = 11


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid (Brostow et al., 2009) as distributed with the SegNet tutorial.

    Layout, relative to ``data_root``::

        train/0001TP_006690.png       RGB frame
        trainannot/0001TP_006690.png  single-channel labels 0-10, 11 = void
        val/ valannot/ (test/ testannot/)
        train.txt val.txt             optional ``image annotation`` pairs

    Without ``ann_file`` every ``img_suffix`` file under ``data_prefix['img_path']`` is
    used, paired with the same file name under ``data_prefix['seg_map_path']``. With
    ``ann_file`` each line is either a stem (MMSeg's convention) or SegNet's
    ``image annotation`` pair; only the file names of a pair are used, so lists that
    still carry SegNet's absolute ``/SegNet/CamVid/...`` paths work too.

    Void becomes ``ignore_index`` (255) through MMSeg's own ``label_map``: the map is
    stored in every data info and applied by ``LoadAnnotations``, so stock pipelines
    and ``IoUMetric(ignore_index=255)`` need nothing CamVid-specific. The map composes
    with a ``metainfo=dict(classes=...)`` subset.

    Args:
        img_suffix (str): Suffix of the frames. Defaults to '.png'.
        seg_map_suffix (str): Suffix of the label maps. Defaults to '.png'.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders. Defaults to
            ``dict(img_path='train', seg_map_path='trainannot')``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128],
                 [128, 64, 128], [60, 40, 222], [128, 128, 0],
                 [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
                 [0, 128, 192]])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='train', seg_map_path='trainannot'),
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            **kwargs)

    @classmethod
    def get_label_map(cls,
                      new_classes: Optional[Sequence] = None) -> Dict[int, int]:
        """MMSeg's class-subset map, extended with ``void (11) -> 255``."""
        label_map = super().get_label_map(new_classes) or {}
        label_map[CAMVID_VOID] = 255
        return label_map

    def load_data_list(self) -> List[dict]:
        """Read SegNet ``image annotation`` pair lists; defer everything else."""
        if not self.ann_file or osp.isdir(self.ann_file):
            return super().load_data_list()
        lines = [
            line.split() for line in mmengine.list_from_file(
                self.ann_file, backend_args=self.backend_args)
            if line.strip()
        ]
        if all(len(fields) == 1 for fields in lines):
            return super().load_data_list()
        if not all(len(fields) == 2 for fields in lines):
            raise ValueError(
                f'ann_file {self.ann_file!r}: every line must be either a stem '
                'or an `image annotation` pair, not a mix')
        img_dir = self.data_prefix.get('img_path', None)
        ann_dir = self.data_prefix.get('seg_map_path', None)
        data_list = []
        for img, ann in lines:
            data_info = dict(img_path=osp.join(img_dir, osp.basename(img)))
            if ann_dir is not None:
                data_info['seg_map_path'] = osp.join(ann_dir,
                                                     osp.basename(ann))
            data_info.update(
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            data_list.append(data_info)
        return data_list
