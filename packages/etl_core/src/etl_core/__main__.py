import sys

from etl_core.cli import main

sys.exit(main())
