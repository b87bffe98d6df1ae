"""Figures (plotly), CPU rendering to video, mesh export."""
