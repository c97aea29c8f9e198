-- What the biller did about an exception, in their words.
ALTER TABLE denials.exceptions ADD COLUMN resolution text NOT NULL DEFAULT '';
