"""Class: the teacher starts a room and drives the lesson from the projector; students answer on their phones.
The panels are resnet_viz.ui.classroom's (this page only places them)."""

from resnet_viz import ui

ui.class_page()
