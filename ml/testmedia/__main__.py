"""``python -m ml.testmedia <root> --demo``: build the demo landing zone (:func:`ml.testmedia.builders.main`)."""

from ml.testmedia.builders import main

raise SystemExit(main())
