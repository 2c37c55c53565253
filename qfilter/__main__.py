import sys

from qfilter.cli import main

sys.exit(main())
