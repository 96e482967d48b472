"""PyInstaller runtime hook: points Minga's path-based lookups at the data inside the bundle.

Runs before the app's first import; an operator's own MINGA_* setting still wins.
"""

import os
import sys
from pathlib import Path

if getattr(sys, "frozen", False):
    # The modules' own __file__ fallbacks would also land here, but only while the bundle
    # mirrors the source tree; naming the folders keeps the app working if that ever changes.
    bundle = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    os.environ.setdefault("MINGA_I18N_DIR", str(bundle / "i18n"))
    os.environ.setdefault("MINGA_VOCABULARY_DIR", str(bundle / "resources" / "vocabularies"))
