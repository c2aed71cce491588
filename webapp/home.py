"""Home page: what is loaded, in numbers (a placeholder until the map page lands)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from fieldkit.store import Layer, Photo

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Show the layers and photo count."""
    rt = current_app.extensions["fieldkit"]
    with rt.db.session() as s:
        layers = s.execute(select(Layer.name, Layer.kind, Layer.feature_count).order_by(Layer.id)).all()
        photos = s.scalar(select(func.count(Photo.id)))
    return render_template("home.html", layers=layers, photos=photos)
