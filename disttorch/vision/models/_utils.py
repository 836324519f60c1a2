"""Helpers shared by the model builders."""
import warnings


def check_weights(weights, builder, kwargs):
    """Refuse pretrained-weight requests: this machine cannot download torchvision's files.

    torchvision's builders accept ``weights=ResNet18_Weights.IMAGENET1K_V1`` (or the older
    ``pretrained=True``) and download the file on first use. Here the state dict has to come
    from a file the user already has. ``pretrained`` is removed from ``kwargs``.
    """
    if "pretrained" in kwargs:
        warnings.warn("The parameter 'pretrained' is deprecated since 0.13 and may be removed "
                      "in the future, please use 'weights' instead.", UserWarning, stacklevel=3)
        if kwargs.pop("pretrained"):
            weights = "DEFAULT"
    if weights is not None:
        raise ValueError(
            f"{builder}(weights={weights!r}): disttorch cannot download pretrained weights. "
            f"Build the model with weights=None and load a state dict saved by PyTorch "
            f"(torch.save(model.state_dict(), path)): "
            f"model.load_state_dict(disttorch.load(path)); the keys are torchvision's.")
