/**
 * Dictionary-near words: a capitalised word that is not a word but is one or two edits from a clinical one
 * ("Pnuemonia", "Diabetis", "Hypertenshun") is a typo, not a name. The name recogniser's last resort ("a capitalised
 * word no dictionary knows is probably a name") asks this first, so misspelt diagnoses stay text — and spelling
 * correction, which runs after de-identification (docs/deid.md), still finds them to correct.
 */
import { DRUGS } from '../text/lexicons.js';

/** Clinical words a typo of which is common in notes (distance 2 is checked against these and drug names). */
const CLINICAL_WORDS = (
  'pneumonia diabetes diabetic hypertension hypertensive hypotension asthma seizure seizures anemia anaemia ' +
  'bronchitis cellulitis nausea vomiting diarrhea diarrhoea dyspnea dyspnoea hemorrhage haemorrhage arrhythmia ' +
  'colitis sinusitis migraine osteoporosis appendicitis tachycardia bradycardia fibrillation pancreatitis ' +
  'cholecystitis diverticulitis hepatitis cirrhosis nephropathy neuropathy retinopathy hyperlipidemia ' +
  'hypothyroidism hyperthyroidism hypoglycemia hyperglycemia hyperkalemia hyponatremia dehydration syncope ' +
  'palpitations angina infarction ischemia ischaemia embolism thrombosis stenosis regurgitation cardiomyopathy ' +
  'schizophrenia depression anxiety dementia delirium encephalopathy meningitis sepsis septicemia bacteremia ' +
  'pyelonephritis cystitis urosepsis gastroenteritis gastritis esophagitis reflux constipation abdominal ' +
  'laceration fracture contusion concussion arthritis osteoarthritis rheumatoid psoriasis eczema dermatitis ' +
  'leukemia lymphoma carcinoma melanoma sarcoma metastasis chemotherapy radiotherapy tuberculosis influenza ' +
  'bronchiolitis emphysema fibrosis effusion pneumothorax atelectasis edema oedema ascites jaundice ' +
  'hematuria proteinuria oliguria incontinence hemiparesis hemiplegia paresthesia vertigo tinnitus ' +
  'conjunctivitis glaucoma cataract otitis pharyngitis tonsillitis laryngitis rhinitis allergies allergy ' +
  'productive cough fever chills fatigue malaise headache'
).split(' ');

const ALPHA = 'abcdefghijklmnopqrstuvwxyz';

/** Every string one deletion, transposition, substitution or insertion away (lower-case a–z). */
function edits1(w: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= w.length; i++) {
    const [a, b] = [w.slice(0, i), w.slice(i)];
    if (b) out.push(a + b.slice(1));
    if (b.length > 1) out.push(a + b[1] + b[0] + b.slice(2));
    for (const c of ALPHA) {
      if (b) out.push(a + c + b.slice(1));
      out.push(a + c + b);
    }
  }
  return out;
}

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring). */
export function osaDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

let clinical: Set<string> | null = null;

/**
 * Whether a lower-case word (not itself a word) is a likely typo of a clinical word or drug name: one edit from one
 * (words of 5+ letters), or two (words of 7+ letters). Names are often one edit from some English word ("Judi",
 * "Marek"), so the whole dictionary is not asked.
 */
export function isNearWord(lower: string): boolean {
  if (lower.length < 5 || !/^[a-z]+$/.test(lower)) return false;
  clinical ??= new Set([...CLINICAL_WORDS, ...DRUGS.filter((d) => /^[a-z]{5,}$/.test(d))]);
  if (edits1(lower).some((e) => clinical!.has(e))) return true;
  if (lower.length < 7) return false;
  for (const c of clinical) if (Math.abs(c.length - lower.length) <= 2 && osaDistance(lower, c) <= 2) return true;
  return false;
}
