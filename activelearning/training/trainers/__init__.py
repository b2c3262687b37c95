"""Trainer backends. Each may need heavy optional packages (the reference one needs `loupe[train]`, i.e. torch);
nothing outside this package imports them."""
