"""The order of the examples in the gallery: from the first pipeline to scaling out."""

ORDER = [
    "plot_ckn_gridsearch_digits.py",
    "plot_cnn_vs_ckn_digits.py",
    "plot_misclassified_digits.py",
    "plot_grad_cam_digits.py",
    "plot_supervised_ckn_training.py",
    "plot_out_of_core_dask.py",
    "plot_digits_comparison.py",
]


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: the position in
    ``ORDER``, then the file name for examples not listed."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename) if filename in ORDER else len(ORDER), filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
