"""Renderers: pure functions of records that return text, figures or arrays (DOT for graphviz, plotly figures,
tiled feature-map images). They never build models."""
