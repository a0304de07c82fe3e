"""`make run`: SQLite and a filesystem broker, so no server is needed."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
