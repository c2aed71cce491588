"""Home page: what is loaded, in numbers, and where to go next."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from fieldkit.queries import visibility_clause
from fieldkit.store import Layer, Photo

from .security import current_viewer, role_required

bp = Blueprint("home", __name__)


@bp.get("/")
@role_required()
def index():
    """Show the layers and how many photos the viewer may see."""
    rt = current_app.extensions["fieldkit"]
    with rt.db.session() as s:
        layers = s.execute(select(Layer.name, Layer.kind, Layer.feature_count).order_by(Layer.id)).all()
        photos = s.scalar(select(func.count(Photo.id)).where(visibility_clause(current_viewer())))
    return render_template("home.html", layers=layers, photos=photos)
