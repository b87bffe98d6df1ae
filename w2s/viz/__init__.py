"""Looking at faces, sounds and measures, without OpenGL or a GPU.

    figures   plotly figures: mesh animations, spectrograms, lip aperture, token scatter, matrices, bars, losses
    display   show (notebook or HTML file, one switch: W2S_INTERACTIVE), audio widgets, a live loss curve
    render    a numpy z-buffer rasteriser and H.264 video with the audio muxed in (ffmpeg from imageio-ffmpeg)
    mesh_io   OBJ/PLY export and load that keep vertex order and count
"""

from w2s.viz.display import audio_widget, interactive, live_loss, show
from w2s.viz.figures import (
    animate_mesh,
    bars,
    group_bars,
    heatmap,
    image_figure,
    lip_aperture,
    loss_figure,
    spectrogram_figure,
    token_scatter,
)
from w2s.viz.mesh_io import export_mesh, load_mesh
from w2s.viz.render import render_image, render_strip, render_video

__all__ = [
    "animate_mesh", "audio_widget", "bars", "export_mesh", "group_bars", "heatmap", "image_figure", "interactive",
    "lip_aperture", "live_loss", "load_mesh", "loss_figure", "render_image", "render_strip", "render_video", "show",
    "spectrogram_figure", "token_scatter",
]  # fmt: skip
