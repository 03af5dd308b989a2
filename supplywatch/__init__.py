"""supplywatch: CLI, configuration and the composition root over crawlers, classifiers, reports and store."""

__version__ = "0.1.0"
