from .searchable_mobilenet_v2 import SearchableMobileNetV2

__all__ = ['SearchableMobileNetV2']
