"""Modules described by plain data: ``config`` out, ``from_config`` back in.

Every module of a fitted CKN (:class:`~sklearn_ckn.core.layers.CKNLayer`,
:class:`~sklearn_ckn.core.output.FeatureOutput`,
:class:`~sklearn_ckn.core.sequential.CKNSequential`,
:class:`~sklearn_ckn.core.network.CKNNetwork`) describes its structure as builtins
(nested dicts for nested modules). The estimators pickle that description with the
weights as arrays, so a saved model holds no torch object, and rebuild the module
from it with :meth:`ConfigurableModule.from_config`.
"""

__all__ = ["ConfigurableModule"]


class ConfigurableModule:
    """Mixin: ``type(m).from_config(m.config)`` builds ``m``'s structure, untrained.

    A subclass defines the property ``config`` and, when its constructor does not
    take ``config``'s entries as they are (nested modules), ``_init_arguments``.
    """

    @classmethod
    def _init_arguments(cls, config):
        """The keyword arguments of ``cls(...)`` that ``config`` describes."""
        return dict(config)

    @classmethod
    def from_config(cls, config):
        """Build an untrained module with the structure ``config`` describes.

        Parameters
        ----------
        config : dict
            The :attr:`config` of a module of this class.

        Returns
        -------
        module : torch.nn.Module
            A module of this class with the same structure, its weights untrained.
        """
        return cls(**cls._init_arguments(config))
