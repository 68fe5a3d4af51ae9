"""Territorial gap analysis: where alternatives are missing, per territory level and taxonomy concept.

Why this shape: the gap analysis reads the triplestore (initiatives and events with their points and concepts,
:mod:`.items`), places each one in its territories at every level (:mod:`.placing`), computes the indicators
with vectorised shapely/numpy (:mod:`.indicators`), and writes its results back: ``ts:inTerritory`` links in
their own named graph (source graphs are never modified) and the indicators as an RDF Data Cube dataset in the
gaps graph (:mod:`.graphs`), CSV/GeoJSON files for the map (:mod:`.files`). :mod:`.step` runs it end to end;
its settings are :class:`transiscope.settings.GapsSettings` and its concepts come from the one taxonomy reader
(:mod:`.concepts`). Absence in the data is not absence on the ground: every output says "non recensé"
(:mod:`.measures`).
"""
