import sys

from transiscope.cli import main

sys.exit(main())
