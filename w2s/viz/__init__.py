"""Looking at faces, sounds and measures, without OpenGL or a GPU.

    figures   plotly figures: mesh animations, spectrograms, lip aperture, token scatter, matrices, bars, losses
    display   show (notebook or HTML file, one switch: W2S_INTERACTIVE), audio widgets, a live loss curve
    render    a numpy z-buffer rasteriser and H.264 video with the audio muxed in (ffmpeg from imageio-ffmpeg)
    mesh_io   OBJ/PLY export and load that keep vertex order and count
    plug      notebook 03: the plug site per host, lip aperture of several predictions, a side-by-side video
    explorer  notebook 04: pick a host, F_s, seed and pair word; the true, predicted and partner lips, the audio
              (ipywidgets; import it from w2s.viz.explorer)
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
from w2s.viz.plug import (
    aperture_figure,
    aperture_mm,
    lip_rows,
    plug_diagram,
    plug_sites,
    render_side_by_side,
)
from w2s.viz.render import render_image, render_strip, render_video

__all__ = [
    "animate_mesh", "aperture_figure", "aperture_mm", "audio_widget", "bars", "export_mesh", "group_bars", "heatmap",
    "image_figure", "interactive", "lip_aperture", "lip_rows", "live_loss", "load_mesh", "loss_figure", "plug_diagram",
    "plug_sites", "render_image", "render_side_by_side", "render_strip", "render_video", "show", "spectrogram_figure",
    "token_scatter",
]  # fmt: skip
