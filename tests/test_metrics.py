import math

import pytest
import torch

from vbench.runtime.distributed import ShardSampler
from vbench.evaluation.metrics import classification_result, confusion_matrix, fuse_views, topk_accuracy


def test_topk_and_mean_class_accuracy_from_known_scores():
    # 6 videos, 3 classes; class 0 has 3 videos, class 1 two, class 2 one
    scores = torch.tensor([
        [0.9, 0.05, 0.05],  # label 0: right
        [0.2, 0.7, 0.1],    # label 0: wrong (1), label in top-2
        [0.1, 0.3, 0.6],    # label 0: wrong (2), label last
        [0.1, 0.8, 0.1],    # label 1: right
        [0.6, 0.3, 0.1],    # label 1: wrong (0), label second
        [0.2, 0.3, 0.5],    # label 2: right
    ])
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    result = classification_result(scores, labels, num_classes=3)
    assert result.top1 == pytest.approx(100 * 3 / 6)
    assert topk_accuracy(scores, labels, 2) == pytest.approx(100 * 5 / 6)
    assert result.top5 == pytest.approx(100.0)  # k is capped at the number of classes
    # per class: 1/3, 1/2, 1/1
    assert result.mean_class == pytest.approx(100 * (1 / 3 + 1 / 2 + 1) / 3)
    assert result.confusion.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 1]]


def test_mean_class_accuracy_ignores_classes_without_videos():
    scores = torch.eye(4)[[0, 1, 1]]
    result = classification_result(scores, torch.tensor([0, 1, 0]), num_classes=4)
    assert result.mean_class == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert math.isnan(result.per_class[3].item())


def test_ties_go_to_the_lower_class_index():
    scores = torch.tensor([[1.0, 1.0, 0.0]])
    assert topk_accuracy(scores, torch.tensor([0]), 1) == 100.0
    assert topk_accuracy(scores, torch.tensor([1]), 1) == 0.0


def test_view_fusion_softmax_and_score_differ_as_they_should():
    views = torch.tensor([[[10.0, 0.0], [0.0, 3.0], [0.0, 3.0]]])  # one very confident view against two
    assert fuse_views(views, "score").argmax().item() == 0  # mean logits: 3.33 vs 2.00
    assert fuse_views(views, "softmax").argmax().item() == 1  # mean probabilities: 0.365 vs 0.635
    probs = fuse_views(views, "softmax")
    assert probs.sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fusion"):
        fuse_views(views, "max")


def test_confusion_matrix_counts():
    cm = confusion_matrix(torch.tensor([0, 2, 2, 1]), torch.tensor([0, 2, 1, 1]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


@pytest.mark.parametrize("n, world", [(10, 3), (7, 2), (2, 4), (0, 2)])
def test_shards_cover_every_video_exactly_once(n, world):
    shards = [list(ShardSampler(list(range(n)), rank, world)) for rank in range(world)]
    assert sorted(i for shard in shards for i in shard) == list(range(n))
