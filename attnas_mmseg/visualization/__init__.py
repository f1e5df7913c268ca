"""Plots of a search's architecture parameters and of a derived architecture."""
from .arch_plots import load_history, plot_evolution, plot_module

__all__ = ['load_history', 'plot_evolution', 'plot_module']
