/**
 * Inference folding: every BatchNorm2d that directly follows a Conv2d (torchvision's conv1/bn1,
 * conv2/bn2, downsample.0/downsample.1, or consecutive Sequential children) is folded into the
 * convolution's weight and bias (F.foldBatchNorm) and becomes the identity. Blocks keep working:
 * a folded BatchNorm2d's forwardRelu is relu(x [+ residual]). One BN pass less per layer in eval.
 */
import { Module, parameter } from './module';
import { BatchNorm2d, Conv2d } from './layers';
import { foldBatchNorm } from '../functional';
import { noGrad } from '../autograd';

function partnerOf(parent: Module, name: string): Conv2d | null {
  const m = /^bn(\d*)$/.exec(name);
  const key = m ? `conv${m[1]}` : /^\d+$/.test(name) ? String(Number(name) - 1) : null;
  const c = key !== null ? parent._modules.get(key) : null;
  return c instanceof Conv2d ? c : null;
}

/** Fold in place (the model is put in eval mode); returns how many BatchNorm2d layers were folded. */
export function fuseForInference(model: Module): number {
  model.eval();
  let n = 0;
  for (const parent of model.modules())
    for (const [name, child] of parent.namedChildren()) {
      if (!(child instanceof BatchNorm2d) || child.folded || !child.running_mean) continue;
      const conv = partnerOf(parent, name);
      if (!conv || conv.outChannels !== child.numFeatures) continue;
      noGrad(() => {
        const { weight, bias } = foldBatchNorm(conv.weight, conv.bias, child);
        conv.weight.copyFrom(weight);
        weight.dispose();
        if (conv.bias) {
          conv.bias.copyFrom(bias);
          bias.dispose();
        } else {
          conv.bias = conv.registerParameter('bias', parameter(bias));
        }
      });
      child.folded = true;
      n++;
    }
  return n;
}
