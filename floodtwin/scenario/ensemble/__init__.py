"""Ensembles of full runs on Dask: probabilistic inundation from many members (``floodtwin ensemble``).

``spec`` reads the ensemble YAML, ``sampling`` draws the members (Latin hypercube), ``member`` runs one
on a worker, ``reduce`` turns the members' files into probabilities and quantiles on the workers,
``outputs`` writes NetCDF, GeoPackage and the probability map, ``run`` does it all
(:func:`run_ensemble`). docs/ensembles.md.
"""

from floodtwin.scenario.ensemble.run import EnsembleRun, run_ensemble
from floodtwin.scenario.ensemble.spec import EnsembleSpec, load_ensemble_spec

__all__ = ["EnsembleRun", "EnsembleSpec", "load_ensemble_spec", "run_ensemble"]
