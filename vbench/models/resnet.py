"""One 2D ResNet trunk for every frame-folding video model of the zoo.

Frames are folded into the batch, ``(N*T, C, H, W)``, and each residual block has named
slots where a method plugs its temporal module in. The layout is torchvision's ImageNet
ResNet (stride in the 3x3 conv, ``conv1``/``bn1``/``layerK.i.convJ`` key names), so a
torchvision state dict loads into the trunk as it is. A method adds a module file and a
small model file; it never writes a ResNet of its own.

Slots of a block (``BlockPlugins``), in the order the data meets them:

=============  ================================================  =====================
slot           where                                             used by (for example)
=============  ================================================  =====================
pre            residual branch input, before the first conv      TSM, STSM shifts
mid            right before the block's spatial 3x3 conv         TEA's ME, STM's CSTM
spatial        replaces the spatial 3x3 conv (same widths, stride)  TAdaConv, MTA
spatial_norm   replaces the BN after the spatial conv            TAda2D aggregation
spatial_act    replaces the ReLU after spatial_norm              MTA (rectifies its own
                                                                 fragments; Identity here)
parallel       a branch fed what the spatial conv's input is;    STM's CMM
               added after spatial_act
post           after the block's last BN, before the sum         ECA, SE
downsample     replaces the shortcut projection                  Res2Net-style pooling
=============  ================================================  =====================

Each slot takes a factory ``(BlockSpec) -> nn.Module | None``; ``None`` leaves the
block as in torchvision. In a bottleneck the spatial conv is ``conv2``; in a basic
block (depth 18/34) it is ``conv1``, and ``pre`` and ``mid`` meet the same tensor.
``parallel`` receives the tensor ``mid`` receives (not ``mid``'s output).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
from torch import nn

from vbench.errors import InputShapeError
from vbench.models.contract import replace_linear

LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
DEPTHS = (18, 34, 50, 101)


@dataclass(frozen=True)
class BlockSpec:
    """Where a block sits and the widths its slots see."""

    stage: int  # 1..4: layer1..layer4
    index: int  # position in its stage
    blocks: int  # blocks in the stage
    in_channels: int  # block input
    width: int  # channels into the spatial conv
    spatial_out: int  # channels out of the spatial conv
    out_channels: int  # block output
    stride: int  # spatial stride of the block (on its spatial conv)
    num_frames: int  # T of the folded batch this block sees
    bottleneck: bool


Factory = Callable[[BlockSpec], nn.Module | None]


@dataclass(frozen=True)
class BlockPlugins:
    """The modules a method plugs into every block (factories; see module docstring)."""

    pre: Factory | None = None
    mid: Factory | None = None
    spatial: Factory | None = None
    spatial_norm: Factory | None = None
    spatial_act: Factory | None = None
    parallel: Factory | None = None
    post: Factory | None = None
    downsample: Factory | None = None

    def __or__(self, other: BlockPlugins) -> BlockPlugins:
        """Combine two methods' plugins: where both fill a slot, run ``self``'s first.

        Only the insertion slots (pre, mid, post) compose; two replacements of the same
        conv or norm cannot, and raise.
        """
        merged = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine and theirs:
                if f.name not in ("pre", "mid", "post"):
                    raise ValueError(f"both plugin sets replace the block's {f.name}")
                merged[f.name] = _chain(mine, theirs)
            else:
                merged[f.name] = mine or theirs
        return BlockPlugins(**merged)


def _chain(first: Factory, second: Factory) -> Factory:
    def build(spec: BlockSpec) -> nn.Module | None:
        parts = [m for m in (first(spec), second(spec)) if m is not None]
        return nn.Sequential(*parts) if len(parts) > 1 else (parts[0] if parts else None)

    return build


def _make(factory: Factory | None, spec: BlockSpec, default: Callable[[], nn.Module]) -> nn.Module:
    module = factory(spec) if factory else None
    return module if module is not None else default()


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def _projection(spec: BlockSpec) -> nn.Module:
    return nn.Sequential(conv1x1(spec.in_channels, spec.out_channels, spec.stride),
                         nn.BatchNorm2d(spec.out_channels))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, spec: BlockSpec, plugins: BlockPlugins):
        super().__init__()
        self.pre = _make(plugins.pre, spec, nn.Identity)
        self.mid = _make(plugins.mid, spec, nn.Identity)
        self.conv1 = _make(plugins.spatial, spec, lambda: conv3x3(spec.width, spec.spatial_out, spec.stride))
        self.bn1 = _make(plugins.spatial_norm, spec, lambda: nn.BatchNorm2d(spec.spatial_out))
        self.relu = nn.ReLU(inplace=True)
        self.spatial_act = _make(plugins.spatial_act, spec, lambda: self.relu)
        self.parallel = plugins.parallel(spec) if plugins.parallel else None
        self.conv2 = conv3x3(spec.spatial_out, spec.out_channels)
        self.bn2 = nn.BatchNorm2d(spec.out_channels)
        self.post = _make(plugins.post, spec, nn.Identity)
        self.downsample = _shortcut(spec, plugins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = _spatial(self, self.pre(x), self.conv1, self.bn1)
        out = self.post(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, spec: BlockSpec, plugins: BlockPlugins):
        super().__init__()
        self.pre = _make(plugins.pre, spec, nn.Identity)
        self.conv1 = conv1x1(spec.in_channels, spec.width)
        self.bn1 = nn.BatchNorm2d(spec.width)
        self.mid = _make(plugins.mid, spec, nn.Identity)
        self.conv2 = _make(plugins.spatial, spec, lambda: conv3x3(spec.width, spec.spatial_out, spec.stride))
        self.bn2 = _make(plugins.spatial_norm, spec, lambda: nn.BatchNorm2d(spec.spatial_out))
        self.conv3 = conv1x1(spec.spatial_out, spec.out_channels)
        self.bn3 = nn.BatchNorm2d(spec.out_channels)
        self.post = _make(plugins.post, spec, nn.Identity)
        self.relu = nn.ReLU(inplace=True)
        self.spatial_act = _make(plugins.spatial_act, spec, lambda: self.relu)
        self.parallel = plugins.parallel(spec) if plugins.parallel else None
        self.downsample = _shortcut(spec, plugins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.pre(x))))
        out = _spatial(self, out, self.conv2, self.bn2)
        out = self.post(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def _spatial(block: nn.Module, x: torch.Tensor, conv: nn.Module, norm: nn.Module) -> torch.Tensor:
    """The spatial stage of a block: mid, conv, norm, activation, plus the parallel branch."""
    side = None if block.parallel is None else block.parallel(x)  # before mid can touch x
    out = block.spatial_act(norm(conv(block.mid(x))))
    return out if side is None else out + side


def _shortcut(spec: BlockSpec, plugins: BlockPlugins) -> nn.Module | None:
    if spec.stride == 1 and spec.in_channels == spec.out_channels:
        return None
    return _make(plugins.downsample, spec, lambda: _projection(spec))


class ResNetTrunk(nn.Module):
    """The stem and four stages of a 2D ResNet, on a batch of images or folded frames.

    ``block_width(planes)`` gives the width a bottleneck's spatial conv works at
    (``planes`` in torchvision's ResNet; Res2Net-style methods widen it).
    ``stage_strides`` and ``stem_pool`` reproduce trunks that move the stem's
    max-pool stride into the stages (TAda2D) or keep layer4 at stride 1 (TCP).
    """

    def __init__(
        self,
        depth: int = 50,
        *,
        num_frames: int = 1,
        plugins: BlockPlugins = BlockPlugins(),
        stage_strides: tuple[int, int, int, int] = (1, 2, 2, 2),
        stem_pool: bool = True,
        block_width: Callable[[int], int] | None = None,
        in_channels: int = 3,
    ):
        super().__init__()
        if depth not in LAYERS:
            raise ValueError(f"ResNet depth must be one of {sorted(LAYERS)}, got {depth}")
        self.depth = depth
        self.num_frames = num_frames
        block = Bottleneck if depth >= 50 else BasicBlock
        width_of = block_width or (lambda planes: planes)
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem_pool else nn.Identity()
        channels = 64
        for stage, (planes, blocks, stride) in enumerate(zip((64, 128, 256, 512), LAYERS[depth], stage_strides), 1):
            layer = []
            for index in range(blocks):
                out = planes * block.expansion
                bottleneck = block is Bottleneck
                spec = BlockSpec(
                    stage=stage, index=index, blocks=blocks, in_channels=channels,
                    width=width_of(planes) if bottleneck else channels,
                    spatial_out=width_of(planes) if bottleneck else planes,
                    out_channels=out, stride=stride if index == 0 else 1,
                    num_frames=num_frames, bottleneck=bottleneck,
                )
                layer.append(block(spec, plugins))
                channels = out
            self.add_module(f"layer{stage}", nn.Sequential(*layer))
        self.num_features = channels
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's initialisation. A plugin that needs its own (a zero-initialised
        # calibration that starts as identity, say) defines ``init_weights()``, which runs
        # after this pass so that it has the last word.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if m is not self and callable(getattr(m, "init_weights", None)):
                m.init_weights()

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images or folded frames -> last-stage feature map (B, C', H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def fold_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N, C, T, H, W) -> (N*T, C, H, W), checking T against what the model was built for."""
    if x.dim() != 5:
        raise InputShapeError(
            f"expected a video batch (N, C, T, H, W), got a tensor of shape {tuple(x.shape)}")
    n, c, t, h, w = x.shape
    if t != num_frames:
        raise InputShapeError(
            f"this model was built for {num_frames} frames but the input has {t}: "
            f"create it with num_frames={t} (--frames {t})")
    return x.transpose(1, 2).reshape(n * t, c, h, w)


def unfold_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Folded features (N*T, C, h, w) -> (N, C, T, h, w): a view, no copy."""
    nt, c, h, w = x.shape
    return x.view(nt // num_frames, num_frames, c, h, w).transpose(1, 2)


def refold_frames(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, h, w) -> (N*T, C, h, w); a view of ``unfold_frames``' input when given its output."""
    n, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(n * t, c, h, w)


class VideoResNet(ResNetTrunk):
    """A frame-folding video network: the trunk on every frame, then a video head.

    Input ``(N, C, T, H, W)``, output ``(N, num_classes)`` logits. ``forward_features``
    gives the contract's ``(N, C', T, h, w)``; the head (``vbench.models.heads``)
    receives the folded features ``(N*T, C', h, w)`` and knows T. Classifier ``head.fc``.
    """

    def __init__(self, depth: int = 50, *, num_frames: int, head: Callable[[int], nn.Module], **trunk):
        super().__init__(depth, num_frames=num_frames, **trunk)
        self.head = head(self.num_features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Video (N, C, T, H, W) -> last-stage features (N, C', T, h, w)."""
        return unfold_frames(self.forward_trunk(fold_frames(x, self.num_frames)), self.num_frames)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(refold_frames(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "head.fc", num_classes)


def video_resnet(
    *,
    depth: int,
    num_classes: int,
    num_frames: int,
    plugins: BlockPlugins = BlockPlugins(),
    extra_plugins: BlockPlugins | None = None,
    head: str = "consensus",
    dropout: float = 0.5,
    head_options: dict | None = None,
    **trunk,
) -> VideoResNet:
    """The common builder of trunk models: a method's plugins, any extra plug-in
    (``extra_plugins``, e.g. STSM's shift on another method) and a head by name."""
    from vbench.models.heads import build_head

    if extra_plugins is not None:
        plugins = plugins | extra_plugins
    options = {"dropout": dropout, **(head_options or {})}
    return VideoResNet(
        depth, num_frames=num_frames, plugins=plugins,
        head=lambda features: build_head(head, features, num_classes, num_frames, **options), **trunk)


class ImageResNet(ResNetTrunk):
    """The trunk as an image classifier (torchvision's ResNet: global pool, ``fc``).

    Input ``(N, C, H, W)``; for image-classification entries of the zoo (e.g. ECA-Net's
    ImageNet models), whose plugins fill the same block slots as the video models'.
    The contract's image case: ``forward_features`` gives ``(N, C', h, w)``; classifier ``fc``.
    """

    def __init__(self, depth: int = 50, *, num_classes: int = 1000, **trunk):
        super().__init__(depth, num_frames=1, **trunk)
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise InputShapeError(f"expected an image batch (N, C, H, W), got a tensor of shape {tuple(x.shape)}")
        return self.forward_trunk(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        replace_linear(self, "fc", num_classes)
